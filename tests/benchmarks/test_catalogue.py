"""The catalogue machinery: rate fit, judging, registration of user cases, output
files and the ``femopt validate`` entry point. Synthetic cases keep these fast."""
import csv
import math

import numpy as np
import pytest

from femopt.benchmarks import catalogue, report, validate
from femopt.benchmarks.catalogue import ERROR, FAIL, PASS, Case, Check, Sample
from femopt.errors import InputError


@pytest.fixture
def synthetic():
    """Register cases with a known error e = C h^p; remove them afterwards."""
    made = []

    def make(name, rate=2.0, expected=2.0, tolerance=1.0, crash=False, at_least=False):
        def compute(n):
            if crash:
                raise RuntimeError("boom")
            h = 1.0 / n
            return [Sample("q", computed=1.0 + 0.5 * h ** rate, reference=1.0, h=h)]

        catalogue.register(Case(name=name, title="synthetic", source="test", compute=compute,
                                checks=(Check("q", tolerance=tolerance, expected_rate=expected,
                                              at_least=at_least),),
                                levels={"quick": (2, 4), "full": (2, 4, 8)}))
        made.append(name)
        return name

    yield make
    for name in made:
        catalogue.unregister(name)


def test_fit_rate_recovers_a_power_law():
    h = np.array([0.5, 0.25, 0.125])
    assert catalogue.fit_rate(h, 3.0 * h ** 2.5) == pytest.approx(2.5)
    # only the last levels count: a pre-asymptotic first level is left out
    errors = np.array([10.0, 3.0 * 0.25 ** 2, 3.0 * 0.125 ** 2, 3.0 * 0.0625 ** 2])
    assert catalogue.fit_rate(np.array([0.5, 0.25, 0.125, 0.0625]), errors) == pytest.approx(2.0)


def test_fit_rate_is_undefined_at_round_off_or_one_level():
    assert math.isnan(catalogue.fit_rate([0.5], [1e-3]))
    assert math.isnan(catalogue.fit_rate([0.5, 0.25], [1e-16, 1e-16]))


def test_sample_error_is_relative_unless_given():
    assert Sample("q", computed=1.1, reference=1.0).error == pytest.approx(0.1)
    assert Sample("q", computed=1e-3, reference=0.0).error == pytest.approx(1e-3)
    assert Sample("q", computed=5.0, reference=0.0, error=0.25).error == 0.25


def test_a_case_at_its_rate_passes(synthetic):
    (row,) = catalogue.run_case(synthetic("synthetic_good"), "quick")
    assert row.status == PASS
    assert row.rate == pytest.approx(2.0)
    assert len(row.errors) == 2
    (row,) = catalogue.run_case("synthetic_good", "full")
    assert len(row.errors) == 3


def test_a_wrong_rate_fails(synthetic):
    (row,) = catalogue.run_case(synthetic("synthetic_slow", rate=1.0, expected=2.0), "quick")
    assert row.status == FAIL
    assert "rate 1.00" in row.message


def test_superconvergence_fails_unless_a_lower_bound_is_asked_for(synthetic):
    (row,) = catalogue.run_case(synthetic("synthetic_fast", rate=3.0, expected=2.0), "quick")
    assert row.status == FAIL
    (row,) = catalogue.run_case(synthetic("synthetic_fast_ok", rate=3.0, expected=2.0, at_least=True), "quick")
    assert row.status == PASS


def test_an_error_above_tolerance_fails(synthetic):
    (row,) = catalogue.run_case(synthetic("synthetic_loose", tolerance=1e-6), "quick")
    assert row.status == FAIL
    assert "tolerance" in row.message


def test_a_crashing_case_is_an_error_row(synthetic):
    (row,) = catalogue.run_case(synthetic("synthetic_crash", crash=True), "quick")
    assert row.status == ERROR
    assert "boom" in row.message
    assert not row.passed


def test_decorator_registers_a_user_case():
    @catalogue.case("user_bar", source="u = σL/E", levels={"quick": (1,)},
                    checks=[Check("u(L)", tolerance=1e-12)])
    def user_bar(n):
        """a bar"""
        return [Sample("u(L)", computed=2.0, reference=2.0)]

    try:
        c = catalogue.get("user_bar")
        assert c.title == "a bar" and c.group == "user"
        assert c.levels["full"] == (1,)
        assert catalogue.run_case("user_bar")[0].status == PASS
        with pytest.raises(InputError, match="exists already"):
            catalogue.register(c)
    finally:
        catalogue.unregister("user_bar")


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="has space"), "without spaces"),
    (dict(checks=()), "no checks"),
    (dict(levels={}), "non-empty"),
    (dict(levels={"fast": (1,)}), "unknown mode"),
    (dict(compute=None), "compute"),
])
def test_bad_cases_are_rejected(kwargs, match):
    args = dict(name="bad", title="t", source="s", checks=(Check("q", 1.0),),
                compute=lambda n: [], levels={"quick": (1,)})
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        Case(**args)


def test_a_sample_without_a_check_is_an_error():
    c = Case(name="stray", title="t", source="s", checks=(Check("q", 1.0),),
             compute=lambda n: [Sample("other", 1.0, 1.0)], levels={"quick": (1,)})
    (row,) = catalogue.run_case(c)
    assert row.status == ERROR and "other" in row.message


def test_unknown_case_names_suggest_close_ones():
    with pytest.raises(InputError, match="did you mean patch_elasticity_tri3"):
        catalogue.get("patch_elastcity_tri3")


def test_table_csv_and_markdown(synthetic, tmp_path):
    rows = catalogue.run([synthetic("synthetic_a"), synthetic("synthetic_b", tolerance=1e-9)], "quick")
    table = report.format_table(rows)
    assert "synthetic_a" in table and "FAIL" in table and "source" in table.splitlines()[0]
    assert report.summary(rows) == "1 pass, 1 fail"
    path = report.write_csv(rows, tmp_path / "out" / "v.csv")
    with path.open() as f:
        records = list(csv.DictReader(f))
    assert [r["status"] for r in records] == [PASS, FAIL]
    assert float(records[0]["rate"]) == pytest.approx(2.0)
    assert len(records[0]["errors_by_level"].split(";")) == 2
    md = report.write_markdown(rows, tmp_path / "v.md").read_text()
    assert "| synthetic_a |" in md and "1 pass, 1 fail" in md


def test_cli_list_names_pending_cases(capsys):
    catalogue.register(Case(name="synthetic_pending", title="waits for a solver", source="test", checks=(),
                            compute=None, levels={}, pending="needs a solver (roadmap)"))
    try:
        assert validate.main(["--list"]) == 0
    finally:
        catalogue.unregister("synthetic_pending")
    out = capsys.readouterr().out
    assert "patch_elasticity_hex27" in out and "heat_transient_slab" in out
    assert "synthetic_pending" in out and "pending: needs a solver" in out


def test_cli_unknown_case_is_a_usage_error(capsys):
    assert validate.main(["--case", "no_such_case"]) == 2
    assert "no validation case named" in capsys.readouterr().err


def test_cli_runs_one_case_by_name_and_writes_files(synthetic, tmp_path, capsys):
    name = synthetic("synthetic_cli")
    assert validate.main(["--case", name, "--out", str(tmp_path)]) == 0
    assert name in capsys.readouterr().out
    assert (tmp_path / "validation.csv").exists() and (tmp_path / "validation.md").exists()


def test_cli_exit_status_is_nonzero_on_failure(synthetic):
    name = synthetic("synthetic_cli_fail", rate=1.0)
    assert validate.main(["--full", "--case", name]) == 1


def test_cli_runs_a_real_case(capsys):
    assert validate.main(["--case", "sensitivity_heat_robin_h"]) == 0
    assert "sensitivity_heat_robin_h" in capsys.readouterr().out


def test_the_documented_user_case_runs():
    """The example of docs/validation.md, "Adding your own case", verbatim."""
    import femopt as fo
    from femopt.benchmarks.catalogue import case

    @case("bar_tension", source="u(L) = σ L / E (uniaxial stress)",
          levels={"quick": (2, 4), "full": (2, 4, 8)},
          checks=[Check("u(L)", tolerance=1e-10)])
    def bar_tension(n):
        """a bar pulled at one end"""
        mesh = fo.mesh.rectangle(size=(4.0, 1.0), shape=(n, 1))
        problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=50.0, nu=0.0, plane="stress"))
        problem.fix("xmin", components=0)
        problem.fix("ymin", components=1)
        problem.traction("xmax", [2.0, 0.0])
        u = problem.solve()
        return [Sample("u(L)", computed=u[mesh.nodes("xmax"), 0].mean(), reference=2.0 * 4.0 / 50.0, h=4.0 / n)]

    try:
        (row,) = catalogue.run_case("bar_tension")
        assert row.status == PASS, row
        assert row.computed == pytest.approx(0.16)
    finally:
        catalogue.unregister("bar_tension")
