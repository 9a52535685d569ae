#!/usr/bin/env python3
"""The CDK app: reads the configuration once and wires the stack. `python app.py` or `cdk synth`."""

from __future__ import annotations

import os

import aws_cdk as cdk

from infra.config import REPO, PlaneConfig
from infra.stack import LineagePlaneStack

# `cdk synth` says where to write (CDK_OUTDIR); `python app.py` alone would otherwise write to a temp folder.
app = cdk.App(outdir=None if os.environ.get("CDK_OUTDIR") else str(REPO / "cdk.out"))
LineagePlaneStack(app, "LineagePlane", config=PlaneConfig.from_context(app.node))
app.synth()
