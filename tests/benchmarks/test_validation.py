"""The validation catalogue, case by case: every quick-mode case is one test (so the
first failure hides none of the others), plus the full catalogue as a slow test."""
import math

import pytest

from femopt.benchmarks import catalogue, report
from femopt.benchmarks.catalogue import ERROR, FAIL, PASS, PENDING

QUICK = [c.name for c in catalogue.cases() if c.pending is None and not c.full_only]
FULL = [c.name for c in catalogue.cases() if c.pending is None]


def _explain(results):
    return "\n" + report.format_table(results, source=False) + "\n" + "\n".join(
        f"{r.case} / {r.quantity}: {r.message}" for r in results if r.message)


def _check(results):
    assert results, "the case produced no result rows"
    assert all(r.status == PASS for r in results), _explain(results)
    for r in results:
        assert r.error <= r.tolerance, _explain(results)
        if r.expected_rate is not None:
            assert math.isfinite(r.rate), _explain(results)


@pytest.mark.parametrize("name", QUICK)
def test_quick_case(name):
    _check(catalogue.run_case(name, "quick"))


@pytest.mark.slow
@pytest.mark.parametrize("name", FULL)
def test_full_case(name):
    _check(catalogue.run_case(name, "full"))


def test_catalogue_covers_the_issue():
    """Every family the validation issue asks for is in the catalogue."""
    names = set(catalogue.names())
    elements = ("tri3", "tri6", "quad4", "quad8", "quad9", "tet4", "tet10", "hex8", "hex20", "hex27")
    for physics in ("elasticity", "heat"):
        for cell in elements:
            assert f"patch_{physics}_{cell}" in names
    for cell in ("quad4", "tri6", "quad8", "quad9"):
        assert f"cantilever_timoshenko_{cell}" in names
    expected = {"lame_cylinder_2d_quad8", "lame_cylinder_3d_hex20", "kirsch_quad8", "lame_sphere_hex20",
                "heat_mms_2d_quad4", "heat_mms_2d_quad9", "heat_mms_3d_hex8", "heat_mms_3d_tet4",
                "heat_slab_convection_quad4", "heat_mms_3d_robin_hex8", "heat_transient_slab",
                "neo_hookean_uniaxial", "neo_hookean_simple_shear", "neo_hookean_newton_quadratic",
                "sensitivity_compliance_E", "sensitivity_lame_inner_radius", "sensitivity_heat_mean_k",
                "sensitivity_heat_robin_h"}
    assert expected <= names


def test_every_case_names_its_source_and_checks():
    for c in catalogue.cases():
        assert c.source.strip(), c.name
        if c.pending is None:
            assert c.checks, c.name
            assert c.levels["full"], c.name


def test_a_pending_case_is_listed_and_not_a_failure():
    pending = catalogue.Case(name="synthetic_pending", title="waits for a solver", source="test", checks=(),
                             compute=None, levels={}, pending="needs a solver (roadmap)")
    catalogue.register(pending)
    try:
        (row,) = catalogue.run_case("synthetic_pending", "quick")
    finally:
        catalogue.unregister("synthetic_pending")
    assert row.status == PENDING
    assert "needs a solver" in row.message
    assert row.passed


def test_transient_cases_run_in_the_quick_mode():
    transient = {c.name for c in catalogue.cases() if "transient" in c.name}
    assert {"heat_transient_slab", "heat_transient_slab_crank_nicolson", "heat_transient_slab_space_quad4",
            "heat_transient_slab_space_quad8", "heat_transient_semi_infinite"} <= transient
    assert transient <= set(QUICK)


def test_quick_mode_skips_full_only_cases():
    full_only = {c.name for c in catalogue.cases() if c.full_only}
    assert full_only, "the quick mode should leave some element variants to the full mode"
    assert not full_only & {c.name for c in catalogue.selected(None, "quick")}
    assert full_only <= {c.name for c in catalogue.selected(None, "full")}
    # Named explicitly, a full-only case runs even in the quick mode.
    assert [c.name for c in catalogue.selected(["lame_sphere_hex8"], "quick")] == ["lame_sphere_hex8"]


@pytest.mark.parametrize("status", [FAIL, ERROR])
def test_failed_rows_do_not_pass(status):
    row = catalogue.Result("c", "q", 1.0, "s", 2.0, 1.0, math.nan, None, 0.1, status)
    assert not row.passed
