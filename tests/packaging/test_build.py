"""The pure parts of shipping.build: targets, tags, pip options, manifests' content, arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from shipping import build
from tests.packaging.support import make_wheel

TARGETS = {target.name: target for target in (*build.GLUE_TARGETS, build.EMR_TARGET)}


def option(options: list[str], name: str) -> str:
    return options[options.index(name) + 1]


@pytest.mark.parametrize(
    ("wheel", "target", "installs"),
    [
        ("fastjsonschema-2.22.3-py3-none-any.whl", "glue-4.0", True),
        ("rpds_py-0.20.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "glue-4.0", True),
        ("orjson-3.10.0-cp38-abi3-manylinux1_x86_64.whl", "glue-4.0", True),
        ("rpds_py-0.20.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "glue-4.0", False),
        ("rpds_py-0.20.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "glue-5.0", True),
        ("rpds_py-0.20.0-cp310-cp310-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", "glue-4.0", False),
        ("rpds_py-0.20.0-cp310-cp310-manylinux_2_28_x86_64.whl", "glue-4.0", False),
        ("rpds_py-0.20.0-cp310-cp310-musllinux_1_1_x86_64.whl", "glue-4.0", False),
        ("rpds_py-0.20.0-cp39-cp39-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", "emr-7", True),
        ("rpds_py-0.20.0-cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "emr-7", True),
        ("rpds_py-0.20.0-cp39-cp39-win_amd64.whl", "emr-7", False),
        ("rpds_py-0.20.0-cp39-cp39-macosx_11_0_arm64.whl", "emr-7", False),
    ],
)
def test_target_tags_accept_exactly_the_wheels_its_runtime_installs(
    wheel: str, target: str, installs: bool
) -> None:
    tags = parse_wheel_filename(wheel)[3]
    assert (not TARGETS[target].tags().isdisjoint(tags)) is installs


def test_platform_tags_stop_at_manylinux2014() -> None:
    tags = build.platform_tags("aarch64")
    assert {"manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_5_aarch64"} <= set(tags)
    assert "manylinux_2_18_aarch64" not in tags


def test_lambda_arm64_means_the_aarch64_platform() -> None:
    target = build.lambda_target("3.13", "arm64")
    options = build.pip_target_options(target, target.archs[0])
    assert option(options, "--platform") == "manylinux2014_aarch64"
    assert option(options, "--python-version") == "3.13"
    assert option(options, "--implementation") == "cp"
    assert option(options, "--abi") == "cp313"
    assert "--only-binary=:all:" in options


def test_lambda_x86_64_means_the_x86_64_platform() -> None:
    assert build.lambda_target("3.12", "x86_64").archs == ("x86_64",)


def test_runtime_dependencies_come_from_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "demo"\ndependencies = ["a>=1", "b[x]<2"]\n')
    assert build.runtime_dependencies(pyproject) == ["a>=1", "b[x]<2"]


def test_no_dependencies_in_pyproject_means_none(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "demo"\n')
    assert build.runtime_dependencies(pyproject) == []


def test_project_wheel_comes_first_then_dependencies_by_name() -> None:
    names = [
        "zeta-1.0-py3-none-any.whl",
        "lineage_plane-0.1.0-py3-none-any.whl",
        "fastjsonschema-2.22.3-py3-none-any.whl",
    ]
    assert build.ordered_wheels(names, "lineage-plane") == [
        "lineage_plane-0.1.0-py3-none-any.whl",
        "fastjsonschema-2.22.3-py3-none-any.whl",
        "zeta-1.0-py3-none-any.whl",
    ]


def test_glue_job_parameters_list_every_wheel_and_forbid_the_index() -> None:
    wheels = ["lineage_plane-0.1.0-py3-none-any.whl", "fastjsonschema-2.22.3-py3-none-any.whl"]
    assert build.glue_job_parameters(wheels, "s3://bucket/lineage/glue/glue-4.0") == {
        "--additional-python-modules": (
            "s3://bucket/lineage/glue/glue-4.0/lineage_plane-0.1.0-py3-none-any.whl,"
            "s3://bucket/lineage/glue/glue-4.0/fastjsonschema-2.22.3-py3-none-any.whl"
        ),
        "--python-modules-installer-option": "--no-index",
    }


def test_arguments_default_to_the_newest_lambda_python_on_arm64() -> None:
    args = build.parse_args(["--out", "somewhere"])
    assert (args.out, args.lambda_python, args.lambda_arch) == (
        Path("somewhere"),
        build.LAMBDA_DEFAULT_PYTHON,
        "arm64",
    )


@pytest.mark.parametrize(
    "argv", [["--lambda-python", "3"], ["--lambda-python", "py3.12"], ["--lambda-arch", "arm"]]
)
def test_arguments_refuse_unknown_lambda_runtimes(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        build.parse_args(argv)


def test_a_wheel_for_another_platform_fails_the_wheelhouse_check(tmp_path: Path) -> None:
    (tmp_path / "rpds_py-0.20.0-cp310-cp310-manylinux_2_17_aarch64.whl").touch()
    with pytest.raises(build.BuildError, match=r"rpds_py-.* does not install on glue-4\.0"):
        build.check_wheelhouse(tmp_path, TARGETS["glue-4.0"], "lineage-plane==0.1.0")


@pytest.mark.slow  # runs pip
def test_a_wheelhouse_missing_a_dependency_fails_the_offline_check(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "lineage-plane", "0.1.0", requires=["absent-dependency>=1"])
    with pytest.raises(build.BuildError, match="emr-7 wheelhouse installs offline"):
        build.check_wheelhouse(tmp_path, build.EMR_TARGET, build.pinned_requirement(wheel))


@pytest.mark.slow  # runs pip
def test_a_complete_wheelhouse_passes_the_offline_check(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "lineage-plane", "0.1.0", requires=["tiny-dependency>=1"])
    make_wheel(tmp_path, "tiny-dependency", "1.2")
    build.check_wheelhouse(tmp_path, build.EMR_TARGET, build.pinned_requirement(wheel))


@pytest.mark.slow  # runs pip
def test_a_failed_pip_step_says_which_step_and_what_to_check() -> None:
    with pytest.raises(build.BuildError, match=r"^resolving nothing failed \(pip exit \d+\): look here$"):
        build.run_pip(
            ["install", "--isolated", "--dry-run", "--quiet", "--no-index", "no-such-distribution-xyz"],
            step="resolving nothing",
            hint="look here",
        )


def test_the_layer_declares_every_python_runtime_from_3_9_to_the_newest_lambda_offers() -> None:
    from aws_cdk import aws_lambda

    # The newest Python runtime Lambda offers, as the pinned aws-cdk-lib knows it (PYTHON_3_14, ...).
    minors = [int(name.rsplit("_", 1)[1]) for name in dir(aws_lambda.Runtime) if name.startswith("PYTHON_3_")]
    expected = [f"python3.{minor}" for minor in range(9, max(minors) + 1)]
    assert build.layer_runtimes(build.LAMBDA_DEFAULT_PYTHON) == expected
    assert build.layer_runtimes("3.12") == expected  # the functions' runtime does not narrow the layer's
    runtimes = [getattr(aws_lambda.Runtime, "PYTHON_3_" + name.rsplit(".", 1)[1]) for name in expected]
    assert [runtime.name for runtime in runtimes] == expected
