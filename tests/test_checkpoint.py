import json
import os
import pickle

import pytest
import torch

from model.checkpoint import CheckpointError, file_version, load_checkpoint, save_checkpoint
from model.config import named_config
from model.network import AttnRegDeepLab


def _model(name="attnregdeeplab"):
    torch.manual_seed(1)
    return AttnRegDeepLab(named_config(name, width=0.125, input_size=64))


def test_round_trip_weights_config_and_metadata(tmp_path):
    m = _model()
    path = tmp_path / "m.pt"
    version = save_checkpoint(path, m, {"training_data": "synthetic", "metrics": {"dice": 0.5}})
    ck = load_checkpoint(path)
    assert ck.version == version == file_version(path) and len(version) == 12
    assert ck.config == m.config
    assert ck.metadata["metrics"] == {"dice": 0.5}
    assert ck.metadata["code_version"] and ck.metadata["created_utc"].endswith("Z")
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(m.eval()(x).logits, ck.model(x).logits)


def test_metadata_must_be_json(tmp_path):
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(tmp_path / "m.pt", _model(), {"bad": object()})
    assert not (tmp_path / "m.pt").exists()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        torch.save({"format": "embryograde-checkpoint", "payload": _Evil(marker)}, f)
    with pytest.raises(CheckpointError, match="refused") as exc:
        load_checkpoint(path)
    assert str(path) in str(exc.value)
    assert not marker.exists()


def test_plain_pickle_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists()


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, _model())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


@pytest.mark.parametrize("content,match", [(b"", "empty"), (b"not a checkpoint at all", "not a readable")])
def test_garbage_and_empty_files(tmp_path, content, match):
    path = tmp_path / "m.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_wrong_configuration_is_refused(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, _model())
    payload = torch.load(path, weights_only=True)
    cfg = json.loads(payload["config"])
    cfg["attention_gates"] = False  # the weights still hold gates
    payload["config"] = json.dumps(cfg)
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="do not match"):
        load_checkpoint(path)


def test_foreign_torch_file_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not an EmbryoGrade checkpoint"):
        load_checkpoint(path)
