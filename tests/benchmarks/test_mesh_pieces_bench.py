"""The mesh-pieces memory benchmark runs at a tiny size (no MPI needed)."""


def test_mesh_pieces_benchmark_measures_a_smaller_piece():
    from femopt.benchmarks.mesh_pieces import measure, table

    records = measure(shape=(12, 10, 8), ranks=(1, 4))
    assert records[1]["cells"] == records["whole"]["cells"] == 960
    assert records[4]["cells"] == 240 and records[4]["held_mb"] < records["whole"]["held_mb"] / 3
    assert "| rank 0's piece of 4 | 240 |" in table(records, (12, 10, 8), "hex8")
