"""Both branches of symnet_core._compat.torchvision, each in a fresh interpreter.

The shim acts on ``sys.modules`` before torchvision's first import, so every check runs in its
own subprocess (the pytest process may already have imported torchvision or open_clip).
"""

from __future__ import annotations

import json
import textwrap

PLACEHOLDERS = ("torchvision._meta_registrations", "torchvision._autograd_registrations")


def _run(python_subprocess, code: str) -> dict:
    prelude = f"PLACEHOLDERS = {PLACEHOLDERS!r}\n"
    proc = python_subprocess(prelude + textwrap.dedent(code))
    assert proc.returncode == 0, f"subprocess failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_open_clip_text_tower_works_after_ensure(python_subprocess):
    """The real branch of this machine: ensure, twice, then open_clip builds RN50 and encodes text."""
    result = _run(
        python_subprocess,
        """
        import json, sys
        import symnet_core._compat.torchvision as tvc
        ops_ok, detail = tvc._probe_torchvision_ops()
        first = tvc.ensure_torchvision_importable()
        second = tvc.ensure_torchvision_importable()
        ids = [id(sys.modules.get(n)) for n in PLACEHOLDERS]
        import torch, open_clip
        third = tvc.ensure_torchvision_importable()
        model, _, _ = open_clip.create_model_and_transforms("RN50", pretrained=None)
        tokens = open_clip.get_tokenizer("RN50")(["a photo of a cat.", "a photo of a dog."])
        with torch.inference_mode():
            feats = model.encode_text(tokens)
        nms_error = None
        if first:
            import torchvision
            try:
                torchvision.ops.nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
            except RuntimeError as exc:
                nms_error = str(exc)[:60]
        print(json.dumps({
            "ops_ok": ops_ok, "first": first, "second": second, "third": third,
            "same_modules": ids == [id(sys.modules.get(n)) for n in PLACEHOLDERS],
            "shape": list(feats.shape), "finite": bool(torch.isfinite(feats).all()),
            "nms_error": nms_error,
        }))
        """,
    )
    assert result["first"] is (not result["ops_ok"])
    assert result["second"] is result["first"]
    assert result["third"] is result["first"]
    assert result["same_modules"]
    assert result["shape"] == [2, 1024]
    assert result["finite"]
    if result["first"]:  # the broken branch: compiled ops stay unavailable, with torchvision's own message
        assert result["nms_error"] is not None


def test_plain_torchvision_import_fails_where_shim_is_needed(python_subprocess):
    """Documents the trap itself: where the probe says the ops do not load, a plain import fails."""
    result = _run(
        python_subprocess,
        """
        import json
        import symnet_core._compat.torchvision as tvc
        ops_ok, _ = tvc._probe_torchvision_ops()
        error = None
        try:
            import torchvision
        except RuntimeError as exc:
            error = str(exc)
        print(json.dumps({"ops_ok": ops_ok, "error": error}))
        """,
    )
    if result["ops_ok"]:
        assert result["error"] is None
    else:
        assert "torchvision::" in result["error"]


def test_normal_branch_is_a_no_op(python_subprocess):
    """Simulated machine where torchvision's ops load: nothing is inserted, False is returned."""
    result = _run(
        python_subprocess,
        """
        import json, sys
        import symnet_core._compat.torchvision as tvc
        tvc._probe_torchvision_ops = lambda: (True, "simulated: ops load")
        results = [tvc.ensure_torchvision_importable(), tvc.ensure_torchvision_importable()]
        print(json.dumps({
            "results": results,
            "inserted": [n for n in PLACEHOLDERS if n in sys.modules],
            "torchvision_imported": "torchvision" in sys.modules,
        }))
        """,
    )
    assert result == {"results": [False, False], "inserted": [], "torchvision_imported": False}


def test_already_imported_torchvision_is_left_alone(python_subprocess):
    result = _run(
        python_subprocess,
        """
        import json, sys, types
        import symnet_core._compat.torchvision as tvc
        def probe():
            raise AssertionError("probe must not run once torchvision is imported")
        tvc._probe_torchvision_ops = probe
        sys.modules["torchvision"] = types.ModuleType("torchvision")
        result = tvc.ensure_torchvision_importable()
        print(json.dumps({"result": result, "inserted": [n for n in PLACEHOLDERS if n in sys.modules]}))
        """,
    )
    assert result == {"result": False, "inserted": []}


def test_import_has_no_side_effects(python_subprocess):
    result = _run(
        python_subprocess,
        """
        import json, sys
        import symnet_core._compat.torchvision
        print(json.dumps(sorted(m for m in ("torch", "torchvision", *PLACEHOLDERS) if m in sys.modules)))
        """,
    )
    assert result == []
