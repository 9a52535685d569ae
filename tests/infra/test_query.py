"""LineageQueries: the archive's Glue tables (partition projection), the workgroup, the results
bucket and the saved queries, synthesized once with cdk-nag's AwsSolutions checks."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lineage_plane import athena_schema
from lineage_plane.layout import (
    Archive,
    event_object_key,
    partition_value,
    partitions_of,
    quarantine_object_key,
)

pytestmark = pytest.mark.slow  # synthesizes with jsii and runs cdk-nag

STACK = "QueryTest"
CONSTRUCT_PATH = f"{STACK}/Queries/"
ARCHIVE = "archive-bucket"
RESULTS = "results-bucket"
ACCOUNT = "111122223333"
REGION = "eu-west-1"


@dataclass
class Synthesized:
    template: Any  # aws_cdk.assertions.Template
    resources: dict[str, Any]
    refs: dict[str, str]  # logical id -> the value a Ref stands for in these tests
    archive_key_id: str
    reader_policy_id: str
    violations: list[tuple[str, str]]  # (rule, construct path) of cdk-nag's report
    template_path: Path


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Template
    from cdk_nag import AwsSolutionsChecks

    from infra.query import LineageQueries

    out = tmp_path_factory.mktemp("query-app")
    app = cdk.App(outdir=str(out))
    stack = cdk.Stack(app, STACK)
    # Stand-ins for the plane's archive: a KMS key and a bucket encrypted with it.
    key = kms.Key(stack, "ArchiveKey", enable_key_rotation=True)
    archive = s3.Bucket(
        stack,
        "Archive",
        encryption_key=key,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    )
    queries = LineageQueries(stack, "Queries", archive_bucket=archive, archive_key=key)
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    queries.grant_query(reader)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except RuntimeError as err:  # cdk-nag's findings fail synthesis; the report says which
        if "ValidationFailed" not in str(err):
            raise
    report_path = out / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {"pluginReports": []}
    violations = [
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]
    template_path = out / f"{STACK}.template.json"
    raw = json.loads(template_path.read_text())
    refs = {
        stack.resolve(archive.bucket_name)["Ref"]: ARCHIVE,
        stack.resolve(queries.results_bucket.bucket_name)["Ref"]: RESULTS,
        "AWS::AccountId": ACCOUNT,
        "AWS::Region": REGION,
        "AWS::Partition": "aws",
    }
    return Synthesized(
        template=Template.from_json(raw),
        resources=raw["Resources"],
        refs=refs,
        archive_key_id=stack.resolve(key.key_arn)["Fn::GetAtt"][0],
        reader_policy_id=stack.get_logical_id(reader.node.find_child("DefaultPolicy").node.default_child),
        violations=violations,
        template_path=template_path,
    )


def render(value: Any, refs: dict[str, str]) -> str:
    """A string property as CloudFormation will see it, for the Refs the tests know."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part, refs) for part in parts)
    if "Ref" in value:
        return refs[value["Ref"]]
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    raise AssertionError(f"cannot render {value!r}")


def of_type(s: Synthesized, kind: str) -> dict[str, Any]:
    return {k: v for k, v in s.resources.items() if v["Type"] == kind}


def tables(s: Synthesized) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["TableInput"]["Name"]: r for r in of_type(s, "AWS::Glue::Table").values()}


def columns(resource: dict[str, Any], key: str = "columns") -> list[tuple[str, str]]:
    table_input = resource["Properties"]["TableInput"]
    found = table_input["StorageDescriptor"]["Columns"] if key == "columns" else table_input["PartitionKeys"]
    return [(c["Name"], c["Type"]) for c in found]


def names_and_types(cols: Any) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in cols]


def test_the_glue_database(synthesized: Synthesized) -> None:
    (database,) = of_type(synthesized, "AWS::Glue::Database").values()
    assert database["Properties"]["DatabaseInput"]["Name"] == "lineage"
    assert database["Properties"]["CatalogId"] == {"Ref": "AWS::AccountId"}
    assert database["DeletionPolicy"] == "Retain"


def test_three_tables_read_the_archive_as_gzip_json_lines(synthesized: Synthesized) -> None:
    found = tables(synthesized)
    assert set(found) == set(athena_schema.TABLES)
    (database_id,) = of_type(synthesized, "AWS::Glue::Database")
    locations = {
        athena_schema.EVENTS_TABLE: f"s3://{ARCHIVE}/{Archive.EVENTS_PREFIX}",
        athena_schema.EVENTS_ALL_PIPELINES_TABLE: f"s3://{ARCHIVE}/{Archive.EVENTS_PREFIX}",
        athena_schema.QUARANTINE_TABLE: f"s3://{ARCHIVE}/{Archive.QUARANTINE_PREFIX}",
    }
    for name, resource in found.items():
        assert resource["Properties"]["DatabaseName"] == "lineage"
        assert database_id in resource["DependsOn"]
        table_input = resource["Properties"]["TableInput"]
        assert table_input["TableType"] == "EXTERNAL_TABLE"
        descriptor = table_input["StorageDescriptor"]
        assert render(descriptor["Location"], synthesized.refs) == locations[name]
        assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
        assert descriptor["SerdeInfo"]["Parameters"]["case.insensitive"] == "FALSE"  # tag keys keep case
        assert descriptor["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"


def test_table_columns_are_the_contracts(synthesized: Synthesized) -> None:
    found = tables(synthesized)
    events, partitions = athena_schema.event_columns(), athena_schema.event_partitions()
    events_table = found[athena_schema.EVENTS_TABLE]
    assert columns(events_table) == names_and_types(athena_schema.without(events, partitions))
    assert columns(events_table, "partitions") == names_and_types(partitions)
    all_pipelines = found[athena_schema.EVENTS_ALL_PIPELINES_TABLE]
    assert columns(all_pipelines) == names_and_types(events)  # pipeline_id is the event's own field
    assert columns(all_pipelines, "partitions") == [(Archive.EVENT_DATE, "string")]
    quarantine = found[athena_schema.QUARANTINE_TABLE]
    assert columns(quarantine) == names_and_types(athena_schema.quarantine_columns())
    assert columns(quarantine, "partitions") == [(Archive.LOG_DATE, "string")]


def test_partitions_are_projected_no_crawler(synthesized: Synthesized) -> None:
    assert not of_type(synthesized, "AWS::Glue::Crawler")
    found = tables(synthesized)
    for name, resource in found.items():
        parameters = resource["Properties"]["TableInput"]["Parameters"]
        date = Archive.LOG_DATE if name == athena_schema.QUARANTINE_TABLE else Archive.EVENT_DATE
        assert parameters["projection.enabled"] == "true"
        assert parameters[f"projection.{date}.type"] == "date"
        assert parameters[f"projection.{date}.format"] == Archive.DATE_FORMAT == "yyyy-MM-dd"
        assert parameters[f"projection.{date}.range"] == "2024-01-01,NOW"
        assert parameters[f"projection.{date}.interval"] == "1"
        assert parameters[f"projection.{date}.interval.unit"] == "DAYS"
        projected = {
            k.split(".")[1] for k in parameters if k.startswith("projection.") and k != "projection.enabled"
        }
        assert projected == {c[0] for c in columns(resource, "partitions")}, "every partition, and only those"
    events = found[athena_schema.EVENTS_TABLE]["Properties"]["TableInput"]["Parameters"]
    assert events[f"projection.{Archive.PIPELINE_ID}.type"] == "injected"


def substitute(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    assert "${" not in template, template
    return template


@pytest.mark.parametrize("pipeline", ["orders-daily", "orders daily", "sales/daily", "ünï.code_~x"])
def test_storage_templates_find_the_objects_the_validator_writes(
    synthesized: Synthesized, pipeline: str
) -> None:
    found = tables(synthesized)

    def template(name: str) -> str:
        parameters = found[name]["Properties"]["TableInput"]["Parameters"]
        return render(parameters["storage.location.template"], synthesized.refs)

    key = event_object_key("2026-11-21", pipeline, "1763694721125-0123456789abcdef01234567")
    folder = f"s3://{ARCHIVE}/{key.rsplit('/', 1)[0]}/"
    partitions = partitions_of(key)
    assert partitions == {Archive.EVENT_DATE: "2026-11-21", Archive.PIPELINE_ID: pipeline}
    # events: the partition's location is the object's folder; the injected value is the folder form.
    on_disk = {Archive.EVENT_DATE: "2026-11-21", Archive.PIPELINE_ID: partition_value(pipeline)}
    assert substitute(template(athena_schema.EVENTS_TABLE), on_disk) == folder
    # events_all_pipelines: the day's location holds every pipeline's folder, read recursively.
    day = substitute(template(athena_schema.EVENTS_ALL_PIPELINES_TABLE), {Archive.EVENT_DATE: "2026-11-21"})
    assert day == f"s3://{ARCHIVE}/{Archive.EVENTS_PREFIX}{Archive.EVENT_DATE}=2026-11-21/"
    assert folder.startswith(day)
    assert f"s3://{ARCHIVE}/{key}".count("/") == day.count("/") + 1  # exactly one folder level below


def test_the_quarantine_template_finds_the_quarantine_objects(synthesized: Synthesized) -> None:
    parameters = tables(synthesized)[athena_schema.QUARANTINE_TABLE]["Properties"]["TableInput"]["Parameters"]
    template = render(parameters["storage.location.template"], synthesized.refs)
    key = quarantine_object_key("2026-11-21", "1763694721125-0123456789abcdef01234567")
    assert substitute(template, partitions_of(key)) == f"s3://{ARCHIVE}/{key.rsplit('/', 1)[0]}/"


def test_the_workgroup_enforces_encrypted_results_and_a_scan_limit(synthesized: Synthesized) -> None:
    (workgroup,) = of_type(synthesized, "AWS::Athena::WorkGroup").values()
    assert workgroup["Properties"]["Name"] == "lineage"
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    assert config["PublishCloudWatchMetricsEnabled"] is True
    assert config["EngineVersion"] == {"SelectedEngineVersion": "AUTO"}
    result = config["ResultConfiguration"]
    assert render(result["OutputLocation"], synthesized.refs) == f"s3://{RESULTS}/results/"
    assert result["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": {"Fn::GetAtt": [synthesized.archive_key_id, "Arn"]},
    }
    assert workgroup["Properties"]["RecursiveDeleteOption"] is False  # RETAIN: nothing is deleted with it


def test_the_results_bucket_is_private_encrypted_tls_only_versioned_and_expiring(
    synthesized: Synthesized,
) -> None:
    from aws_cdk.assertions import Match

    results_id = next(k for k, v in synthesized.refs.items() if v == RESULTS)
    bucket = synthesized.resources[results_id]["Properties"]
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [synthesized.archive_key_id, "Arn"]},
    }
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireQueryResults"]["Status"] == "Enabled"
    assert rules["ExpireQueryResults"]["ExpirationInDays"] == 30
    assert rules["ExpireQueryResults"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert rules["RemoveExpiredDeleteMarkers"]["ExpiredObjectDeleteMarker"] is True
    synthesized.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": results_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        ),
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}}}
                        ),
                    ]
                )
            },
        },
    )


def test_one_named_query_per_file_in_the_workgroup_and_database(synthesized: Synthesized) -> None:
    named = {r["Properties"]["Name"]: r for r in of_type(synthesized, "AWS::Athena::NamedQuery").values()}
    saved = {q.name: q for q in athena_schema.saved_queries()}
    assert set(named) == set(saved)
    (workgroup_id,) = of_type(synthesized, "AWS::Athena::WorkGroup")
    for name, resource in named.items():
        properties = resource["Properties"]
        assert properties["QueryString"] == saved[name].sql
        assert properties["Description"] == saved[name].question
        assert properties["Database"] == "lineage"
        assert properties["WorkGroup"] == "lineage"
        assert workgroup_id in resource["DependsOn"]


def test_cdk_nag_finds_nothing_unacknowledged_in_the_construct(synthesized: Synthesized) -> None:
    assert [v for v in synthesized.violations if v[1].startswith(CONSTRUCT_PATH)] == []
    # The checks did run: the test's stand-in archive bucket has no access logs, and nag says so.
    assert ("AwsSolutions-S1", f"{STACK}/Archive/Resource") in synthesized.violations


def test_cfn_lint_finds_nothing(synthesized: Synthesized) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--", str(synthesized.template_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_grant_query_gives_the_workgroup_the_tables_and_the_data(synthesized: Synthesized) -> None:
    policy = synthesized.resources[synthesized.reader_policy_id]["Properties"]["PolicyDocument"]
    statements = policy["Statement"]

    def resources_of(action: str) -> list[str]:
        found = []
        for statement in statements:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if action in actions:
                targets = (
                    statement["Resource"]
                    if isinstance(statement["Resource"], list)
                    else [statement["Resource"]]
                )
                found += [render(target, synthesized.refs) for target in targets]
        return found

    assert resources_of("athena:StartQueryExecution") == [
        f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/lineage"
    ]
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    assert sorted(resources_of("glue:GetTable")) == sorted(
        [
            f"{glue}:catalog",
            f"{glue}:database/lineage",
            *(f"{glue}:table/lineage/{t}" for t in athena_schema.TABLES),
        ]
    )
    reads = " ".join(resources_of("s3:GetObject*"))
    assert f"/{Archive.EVENTS_PREFIX}*" in reads
    assert f"/{Archive.QUARANTINE_PREFIX}*" in reads
    assert "/results/*" in " ".join(resources_of("s3:PutObject"))
    # What the grantee's owner acknowledges: the wildcard action groups of CDK's own grants.
    reader = [rule for rule, path in synthesized.violations if path.startswith(f"{STACK}/Reader/")]
    assert reader
    assert all(rule.startswith("AwsSolutions-IAM5[") for rule in reader), reader


def test_settings_reach_the_template(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Match, Template

    from infra.query import LineageQueries

    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "Custom")
    key = kms.Key(stack, "Key")
    queries = LineageQueries(
        stack,
        "Queries",
        archive_bucket=s3.Bucket(stack, "Archive", encryption_key=key),
        archive_key=key,
        database_name="lineage_test",
        workgroup_name="lineage-test",
        bytes_scanned_cutoff_per_query=50_000_000,
        results_retention=cdk.Duration.days(7),
        server_access_logs_bucket=s3.Bucket(stack, "Logs"),
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    assert queries.workgroup_name == "lineage-test"
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Glue::Database", {"DatabaseInput": {"Name": "lineage_test"}})
    template.all_resources_properties("AWS::Glue::Table", {"DatabaseName": "lineage_test"})
    template.all_resources_properties(
        "AWS::Athena::NamedQuery", {"Database": "lineage_test", "WorkGroup": "lineage-test"}
    )
    template.has_resource(
        "AWS::Athena::WorkGroup",
        {
            "DeletionPolicy": "Delete",
            "Properties": {
                "Name": "lineage-test",
                "RecursiveDeleteOption": True,
                "WorkGroupConfiguration": {"BytesScannedCutoffPerQuery": 50_000_000},
            },
        },
    )
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"ExpirationInDays": 7, "Id": "ExpireQueryResults"})]
                )
            },
            "LoggingConfiguration": {"LogFilePrefix": "athena-results/"},
        },
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"bytes_scanned_cutoff_per_query": 9_999_999}, "minimum"),
        ({"results_retention_hours": 12}, "whole number of days"),
    ],
)
def test_settings_athena_or_s3_would_refuse_fail_at_synthesis(settings: dict[str, int], message: str) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3

    from infra.query import LineageQueries

    stack = cdk.Stack(cdk.App(), "Invalid")
    key = kms.Key(stack, "Key")
    kwargs: dict[str, Any] = {}
    if "results_retention_hours" in settings:
        kwargs["results_retention"] = cdk.Duration.hours(settings["results_retention_hours"])
    else:
        kwargs.update(settings)
    with pytest.raises(Exception, match=message):
        LineageQueries(
            stack, "Queries", archive_bucket=s3.Bucket(stack, "Archive"), archive_key=key, **kwargs
        )
