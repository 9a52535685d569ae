#!/usr/bin/env python3
"""The CDK app: reads the configuration once, wires the stack, checks it with cdk-nag.

`python app.py` or `cdk synth` (through the pinned CLI: `make synth-cli`).
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import REPO, PlaneConfig
from infra.stack import LineagePlaneStack

# `cdk synth` says where to write (CDK_OUTDIR); `python app.py` alone would otherwise write to a temp folder.
app = cdk.App(outdir=None if os.environ.get("CDK_OUTDIR") else str(REPO / "cdk.out"))
LineagePlaneStack(app, "LineagePlane", config=PlaneConfig.from_context(app.node))
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
