"""`import edge_router` stays cheap and its public names resolve."""

import subprocess
import sys

import edge_router


def test_import_loads_neither_llama_cpp_nor_onnxruntime():
    code = (
        "import sys, edge_router\n"
        "heavy = [m for m in ('llama_cpp', 'onnxruntime', 'numpy', 'requests', 'tokenizers') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_public_name_resolves():
    for name in edge_router.__all__:
        assert getattr(edge_router, name) is not None


def test_unknown_attribute_is_an_attribute_error():
    try:
        edge_router.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_all_is_exactly_the_public_names():
    from edge_router import _LAZY, errors

    error_names = {n for n in dir(errors) if n.endswith("Error")}
    assert set(edge_router.__all__) == set(_LAZY) | error_names | {"__version__"}
