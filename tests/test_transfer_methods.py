"""Contract tests of the domain-transfer methods: each loss's gradient reaches what it should and
nothing else, the gradient-reversal ramp, appearance randomisation (the transfer probe's tests:
tests/test_transfer_probe.py)."""

import math

import pytest
import torch
from test_image_agents import (
    ACT_DIM,
    SHAPE,
    B,
    images,
    obs_batch,
    paired_batch,
    robot_batch,
    snapshot,
)

from rlv.config import SACConfig
from rlv.methods import RLV, Batches
from rlv.methods.rlv import RLVConfig
from rlv.nets import ImageEncoder, RandomShift
from rlv.transfer import (
    AppearanceRandomisation,
    paired_contrastive_loss,
    reversal_weight,
    temporal_contrast_loss,
)


def make(sac=None, **rlv):
    torch.manual_seed(0)
    return RLV(
        0,
        ACT_DIM,
        SACConfig(hidden=(16,), **(sac or {})),
        RLVConfig(idm_hidden=(8,), **rlv),
        encoder=ImageEncoder(SHAPE, channels=(4, 4)),
        augment=RandomShift(2),
    )


def grad_norm(module):
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def others_untouched(agent):
    return all(
        p.grad is None
        for module in (agent.sac.critic, agent.sac.actor, agent.idm)
        for p in module.parameters()
    )


def test_contrastive_loss_reaches_only_the_encoder():
    agent = make(contrastive_weight=1.0, paired_weight=0.0)
    features = agent.sac.encoder(torch.cat([robot_batch().obs, obs_batch().obs]))
    loss, metrics = agent.transfer.alignment_loss(features, B, paired_batch(), agent.updates)
    loss.backward()
    assert metrics["loss/contrastive"] > 0 and 0 <= metrics["stat/paired_retrieval"] <= 1
    assert "loss/paired" not in metrics  # paired_weight 0: no MSE term
    assert grad_norm(agent.sac.encoder) > 0 and others_untouched(agent)


def test_contrastive_loss_cannot_be_won_by_collapse():
    """Identical features for every frame cost log P; features that tell the pairs apart cost less."""
    collapsed = torch.ones(B, 6)
    loss, _ = paired_contrastive_loss(collapsed, collapsed, temperature=0.1)
    assert loss.item() == pytest.approx(math.log(B), rel=1e-5)
    distinct = torch.eye(B)
    loss, metrics = paired_contrastive_loss(distinct, distinct, temperature=0.1)
    assert loss.item() < 0.01 and metrics["stat/paired_retrieval"] == 1.0
    assert metrics["loss/contrastive"] == loss.item()


def test_temporal_loss_reaches_the_encoder_through_current_frames_only():
    agent = make(temporal_weight=1.0)
    union = torch.cat([robot_batch().obs, obs_batch().obs])
    next_union = torch.cat([robot_batch().next_obs, obs_batch().next_obs])
    features = agent.sac.encoder(union)
    next_features = agent.sac.encoder(next_union)
    loss, metrics = temporal_contrast_loss(features, next_features.detach(), B, temperature=0.1)
    loss.backward()
    assert loss.item() > 0 and grad_norm(agent.sac.encoder) > 0 and others_untouched(agent)
    assert metrics["loss/temporal"] == loss.item()
    assert temporal_contrast_loss(torch.eye(2 * B), torch.eye(2 * B), B, temperature=0.1)[0].item() < 0.01


def test_dann_reverses_the_discriminator_gradient_with_a_ramped_weight():
    """The encoder's dann loss is -lambda_p times the discriminator's BCE: its gradient is the
    reversed one; lambda_0 = 0, then it rises to generator_weight. The agent's ramp reads its
    gradient-step counter."""
    agent = make(alignment="dann", generator_weight=2.0, alignment_ramp_steps=100)
    adversary = agent.transfer.adversary
    domain = torch.cat([torch.zeros(B), torch.ones(B)])
    features = torch.randn(2 * B, agent.sac.encoder.out_dim, generator=torch.Generator().manual_seed(0))
    weights = []
    for step in (0, 10, 50, 100, 1000):
        weights.append(adversary.encoder_loss(features, domain, step)[1]["stat/alignment_weight"])
        assert weights[-1] == reversal_weight(step, 100, 2.0)
    assert weights[0] == 0 and weights == sorted(weights) and weights[-1] == pytest.approx(2.0, rel=1e-3)
    agent.updates = 50
    _, metrics = agent.transfer_loss(robot_batch(), features, features, None)
    assert metrics["stat/alignment_weight"] == weights[2]
    encoder_side = features.clone().requires_grad_(True)
    loss, _ = adversary.encoder_loss(encoder_side, domain, 100)
    loss.backward()
    discriminator_side = features.clone().requires_grad_(True)
    torch.nn.functional.binary_cross_entropy_with_logits(
        adversary.discriminator(discriminator_side), domain
    ).backward()
    torch.testing.assert_close(encoder_side.grad, -weights[3] * discriminator_side.grad)
    frozen = [p.grad for p in adversary.discriminator.parameters()]
    assert all(g is not None for g in frozen)  # only from the discriminator-side backward above


def test_dann_discriminator_is_spectrally_normalised():
    agent = make(alignment="dann")
    discriminator = agent.transfer.adversary.discriminator
    discriminator(torch.randn(4, agent.sac.encoder.out_dim))  # a forward runs the power iteration
    for layer in discriminator.net:
        if isinstance(layer, torch.nn.Linear):
            assert torch.linalg.matrix_norm(layer.weight, ord=2).item() == pytest.approx(1.0, abs=0.15)


def test_update_counter_is_saved_and_restored():
    agent = make(alignment="dann")
    for _ in range(3):
        agent.update(Batches(robot_batch(), obs_batch()))
    assert agent.updates == 3
    other = make(alignment="dann")
    other.load_state_dict(agent.state_dict())
    assert other.updates == 3
    legacy = {key: value for key, value in agent.state_dict().items() if key != "updates"}
    other.load_state_dict(legacy)
    assert other.updates == 0


def test_appearance_randomisation():
    augment = AppearanceRandomisation()
    x = images(16, 3)
    torch.manual_seed(0)
    y = augment(x)
    torch.manual_seed(0)
    assert torch.equal(augment(x), y)  # seeded: identical
    assert y.dtype == torch.uint8 and y.shape == x.shape and not torch.equal(x, y)
    assert len({tuple(y[i].float().mean(dim=(0, 1)).round().tolist()) for i in range(16)}) > 8  # per image
    augment.eval()
    assert torch.equal(augment(x), x)


def test_new_options_off_leave_the_update_as_it_was():
    """Defaults draw no extra random numbers and compute the same update as before the options:
    two agents, one with the new options at explicit zero, give identical weights."""
    results = []
    for options in ({}, {"contrastive_weight": 0.0, "temporal_weight": 0.0, "alignment_ramp_steps": 7}):
        agent = make(**options)
        torch.manual_seed(5)
        agent.update(Batches(robot_batch(), obs_batch()))
        results.append(snapshot(agent.sac.encoder) + snapshot(agent.sac.critic) + [torch.get_rng_state()])
    assert all(torch.equal(a, b) for a, b in zip(*results, strict=True))
