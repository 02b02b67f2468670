"""Shard splitting and the lazy Ray import of the distributed engine (no Ray started here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from symnet_core.workflows.distributed.shards import parse_shard, shard_keys


def test_parse_shard_accepts_i_of_n_and_rejects_the_rest():
    assert parse_shard("0/3") == (0, 3)
    assert parse_shard(" 2 / 3 ") == (2, 3)
    for bad in ("3/3", "-1/3", "1/0", "1", "a/b", ""):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


def test_shards_partition_the_sorted_list_whatever_its_order():
    keys = [f"sub/{c}{i}.png" for c in "zab" for i in range(7)]
    parts = [shard_keys(keys, i, 4) for i in range(4)]
    assert sorted(k for part in parts for k in part) == sorted(keys)
    assert len({k for part in parts for k in part}) == len(keys)
    assert shard_keys(list(reversed(keys)), 1, 4) == parts[1]
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_core_cli_and_distributed_modules_never_import_ray():
    code = (
        "import sys\n"
        "import symnet_core, symnet_core.cli.annotate, symnet_core.cli.propagate_distributed\n"
        "import symnet_core.workflows.distributed.ray_engine, symnet_core.workflows.distributed.shards\n"
        "import symnet_core.workflows.distributed.worker, symnet_core.workflows.propagation\n"
        "print('ray' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
