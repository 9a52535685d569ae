"""CDK constructs of the lineage plane. app.py only wires them; no runtime code imports aws_cdk."""
