import pytest
import torch

from model.config import NAMED_CONFIGS, ModelConfig, named_config
from model.network import AttnRegDeepLab


def _out(cfg, n=2, size=64):
    torch.manual_seed(0)
    model = AttnRegDeepLab(cfg).eval()
    with torch.no_grad():
        return model, model(torch.randn(n, cfg.in_channels, size, size))


@pytest.mark.parametrize("name", sorted(NAMED_CONFIGS))
@pytest.mark.parametrize("depth", [18, 34, 50])
def test_output_shapes_every_config_and_depth(name, depth):
    cfg = named_config(name, depth=depth, width=0.125, input_size=64)
    _, out = _out(cfg, size=96)
    assert out.logits.shape == (2, 3, 96, 96)
    if cfg.regression_head:
        assert out.fraction.shape == (2,)
        assert ((out.fraction >= 0) & (out.fraction <= 1)).all()
        assert out.latent.shape == (2, cfg.latent_dim)
    else:
        assert out.fraction is None and out.latent is None


@pytest.mark.parametrize("stride", [8, 16])
def test_attention_maps_in_unit_range_and_shaped_like_their_skip(stride):
    cfg = named_config("attnregdeeplab", width=0.125, output_stride=stride, input_size=64)
    _, out = _out(cfg, size=128)
    assert set(out.attention) == {"gate_stride8", "gate_stride4"}
    assert out.attention["gate_stride8"].shape == (2, 1, 16, 16)  # skip at stride 8
    assert out.attention["gate_stride4"].shape == (2, 1, 32, 32)  # skip at stride 4
    for a in out.attention.values():
        assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_vanilla_has_no_gates_head_or_injection():
    model, out = _out(named_config("deeplabv3plus", width=0.125, input_size=64))
    assert out.attention == {}
    assert not hasattr(model, "gate8") and not hasattr(model, "gate4")
    assert model.head is None


def test_injection_on_and_off_change_the_logits():
    cfg = named_config("attnregdeeplab", width=0.125, input_size=64)
    torch.manual_seed(0)
    model = AttnRegDeepLab(cfg).eval()
    # The latent channels of the injection conv start at zero (identity at
    # switch-on); give them weights as training would.
    with torch.no_grad():
        dec = model.inject[0][0].weight.shape[1] - cfg.latent_dim
        model.inject[0][0].weight[:, dec:].normal_(0, 0.5)
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        on = model(x).logits
        model.injection_enabled = False
        off = model(x).logits
    assert not torch.allclose(on, off)


def test_fresh_injection_starts_as_identity():
    cfg = named_config("attnregdeeplab", width=0.125, input_size=64)
    torch.manual_seed(0)
    model = AttnRegDeepLab(cfg).eval()
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        on = model(x).logits
        model.injection_enabled = False
        assert torch.allclose(on, model(x).logits)


def test_parameter_groups_cover_every_parameter_once():
    model = AttnRegDeepLab(named_config("attnregdeeplab", width=0.125, input_size=64))
    grouped = [id(p) for ps in model.parameter_groups().values() for p in ps]
    assert len(grouped) == len(set(grouped)) == len(list(model.parameters()))


def test_invalid_configurations_refused():
    with pytest.raises(ValueError):
        ModelConfig(depth=101).validate()
    with pytest.raises(ValueError):
        ModelConfig(regression_head=False, feature_injection=True).validate()
    with pytest.raises(KeyError):
        named_config("unet")


def test_fast_injection_equals_the_papers_concatenation():
    cfg = named_config("attnregdeeplab", width=0.125, input_size=64)
    torch.manual_seed(3)
    model = AttnRegDeepLab(cfg).eval()
    conv = model.inject[0][0]
    with torch.no_grad():
        conv.weight.normal_(0, 0.2)
        d = torch.randn(2, conv.weight.shape[1] - cfg.latent_dim, 9, 11)
        z = torch.randn(2, cfg.latent_dim)
        concat = torch.cat([d, z[:, :, None, None].expand(-1, -1, 9, 11)], dim=1)
        explicit = model.inject(concat)
        fast = model._inject(d, z)
    torch.testing.assert_close(fast, explicit, rtol=1e-4, atol=1e-5)
