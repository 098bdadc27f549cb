"""The RLPD options of the SAC learner (LayerNorm critics, an ensemble of N, a random target subset,
a mean-Q actor): with the defaults the critic, its random draws and an update are SAC's as before;
with them the target uses exactly the drawn critics; the `*-rlpd` presets train and resume exactly."""

import copy
import dataclasses
import itertools
import math

import pytest
import torch
from test_agents import ACT_DIM, OBS_DIM, B, robot_batch
from test_cli import TINY
from test_train import assert_same_state, final_agent, rows, train_interrupted_at

from rlv.cli import main
from rlv.config import SACConfig
from rlv.methods import SAC, Batches
from rlv.methods.registry import check_config, load_config
from rlv.nets import EnsembleCritic, TanhGaussianActor
from rlv.presets import PRESETS, RLPD_SAC, RLPD_UPDATES_PER_STEP, get_preset
from rlv.train import resume

HIDDEN = (32, 32)


def rlpd_sac(seed: int = 0, **changes: object) -> SAC:
    torch.manual_seed(seed)
    return SAC(OBS_DIM, ACT_DIM, SACConfig(hidden=HIDDEN, **(RLPD_SAC | changes)))


def twin_critic_reference(seed: int) -> tuple[TanhGaussianActor, dict[str, torch.Tensor]]:
    """The actor and the critic parameters SAC built before the RLPD options, drawn explicitly:
    per layer a (2, in, out) xavier-uniform weight and a zero (2, 1, out) bias."""
    torch.manual_seed(seed)
    actor = TanhGaussianActor(OBS_DIM, ACT_DIM, HIDDEN)
    widths = [OBS_DIM + ACT_DIM, *HIDDEN, 1]
    names = [f"hidden_layers.{index}" for index in range(len(HIDDEN))] + ["head"]
    params = {}
    for name, (a, b) in zip(names, itertools.pairwise(widths), strict=True):
        bound = math.sqrt(6.0 / (a + b))
        params[f"{name}.weight"] = torch.empty(2, a, b).uniform_(-bound, bound)
        params[f"{name}.bias"] = torch.zeros(2, 1, b)
    return actor, params


def test_default_critic_is_the_twin_critic_with_the_same_draws():
    actor, reference = twin_critic_reference(seed=5)
    reference_next_draw = torch.rand(3)
    torch.manual_seed(5)
    sac = SAC(OBS_DIM, ACT_DIM, SACConfig(hidden=HIDDEN))
    state = sac.critic.state_dict()
    assert list(state) == list(reference)  # same keys in the same order: old checkpoints load
    assert all(torch.equal(state[key], reference[key]) for key in reference)
    assert all(torch.equal(a, b) for a, b in zip(sac.actor.parameters(), actor.parameters(), strict=True))
    assert torch.equal(torch.rand(3), reference_next_draw)  # nothing else was drawn


def test_default_critic_is_two_independent_relu_mlps():
    torch.manual_seed(0)
    critic = EnsembleCritic(OBS_DIM, ACT_DIM, HIDDEN)
    obs, action = torch.randn(B, OBS_DIM), torch.rand(B, ACT_DIM)
    params = critic.state_dict()
    for member in range(2):
        x = torch.cat([obs, action], dim=-1)
        for index in range(len(HIDDEN)):
            layer = f"hidden_layers.{index}"
            x = torch.relu(x @ params[f"{layer}.weight"][member] + params[f"{layer}.bias"][member])
        expected = (x @ params["head.weight"][member] + params["head.bias"][member]).squeeze(-1)
        torch.testing.assert_close(critic(obs, action)[member], expected)


def test_default_update_is_the_explicit_twin_sac_update():
    """One update of the default SAC against the same step written out: the target and the actor
    use min(Q_1, Q_2) of both critics, and the update draws nothing else from torch's RNG."""
    torch.manual_seed(0)
    sac = SAC(OBS_DIM, ACT_DIM, SACConfig(hidden=HIDDEN))
    reference = copy.deepcopy(sac)
    batch = robot_batch()
    torch.manual_seed(7)
    metrics = sac.update(Batches(batch))
    after_update = torch.rand(2)

    torch.manual_seed(7)
    with torch.no_grad():
        next_action, next_log_prob = reference.actor.sample(batch.next_obs)
        next_q = torch.minimum(*reference.critic_target(batch.next_obs, next_action))
        target = batch.reward + 0.99 * (1 - batch.done) * (next_q - reference.alpha * next_log_prob)
    q = reference.critic(batch.obs, batch.action)
    critic_loss = 0.5 * ((q[0] - target).pow(2).mean() + (q[1] - target).pow(2).mean())
    reference.step_critic(critic_loss)
    action, log_prob = reference.actor.sample(batch.obs)
    reference.critic.requires_grad_(False)
    actor_loss = (reference.alpha * log_prob - torch.minimum(*reference.critic(batch.obs, action))).mean()
    reference.critic.requires_grad_(True)
    reference.actor_optim.zero_grad()
    actor_loss.backward()
    reference.actor_optim.step()
    reference.update_alpha(log_prob.detach())
    reference.update_target()

    assert metrics["loss/critic"] == critic_loss.item() and metrics["loss/actor"] == actor_loss.item()
    assert_same_state(sac.state_dict(), reference.state_dict())
    assert torch.equal(after_update, torch.rand(2))


def test_target_uses_exactly_the_drawn_subset():
    sac = rlpd_sac()
    with torch.no_grad():  # Q'_j(s', a') = j for every input
        sac.critic_target.head.weight.zero_()
        sac.critic_target.head.bias.copy_(torch.arange(10.0).view(10, 1, 1))
    drawn, evaluated = [], []
    draw = sac.target_members

    def recorded_draw() -> torch.Tensor | None:
        drawn.append(draw())
        return drawn[-1]

    sac.target_members = recorded_draw
    sac.critic_target.head.register_forward_hook(lambda module, inputs, output: evaluated.append(len(output)))
    obs, action = robot_batch().next_obs, torch.zeros(B, ACT_DIM)
    with torch.no_grad():
        values = [sac.target_q(obs, action) for _ in range(60)]
    assert evaluated == [2] * 60  # only the drawn members are evaluated
    for members, value in zip(drawn, values, strict=True):
        assert len(set(members.tolist())) == 2 and members.min() >= 0 and members.max() < 10
        assert value.eq(float(members.min())).all()
    assert set(torch.cat(drawn).tolist()) == set(range(10))


@pytest.mark.parametrize("subset", [None, 10])
def test_target_over_the_whole_ensemble_draws_nothing(subset):
    sac = rlpd_sac(target_subset=subset)
    obs, action = robot_batch().next_obs, torch.zeros(B, ACT_DIM)
    rng_state = torch.get_rng_state()
    with torch.no_grad():
        value = sac.target_q(obs, action)
        expected = sac.critic_target(obs, action).min(dim=0).values
    assert sac.target_members() is None and torch.equal(value, expected)
    assert torch.equal(torch.get_rng_state(), rng_state)


def test_members_evaluates_those_members_of_the_full_ensemble():
    critic = rlpd_sac().critic
    obs, action = torch.randn(B, OBS_DIM), torch.rand(B, ACT_DIM)
    members = torch.tensor([7, 2, 4])
    with torch.no_grad():
        torch.testing.assert_close(critic(obs, action, members), critic(obs, action)[members])


def test_layer_norm_normalises_every_critic_hidden_layer():
    critic = rlpd_sac().critic
    assert critic.hidden_norms is not None and len(critic.hidden_norms) == len(HIDDEN)
    assert critic.hidden_norms[0].weight.shape == (10, 1, HIDDEN[0])
    pre = critic.hidden_layers[0](torch.randn(B, OBS_DIM + ACT_DIM))
    normed = critic.hidden_norms[0](pre)
    torch.testing.assert_close(normed.mean(-1), torch.zeros(10, B), atol=1e-5, rtol=0)
    torch.testing.assert_close(normed.var(-1, unbiased=False), torch.ones(10, B), atol=1e-3, rtol=0)
    assert EnsembleCritic(OBS_DIM, ACT_DIM, HIDDEN).hidden_norms is None


def test_mean_actor_maximises_the_ensemble_mean():
    sac = rlpd_sac()
    features = robot_batch().obs
    torch.manual_seed(1)
    loss, _, _ = sac.actor_loss(features)
    torch.manual_seed(1)
    action, log_prob = sac.actor.sample(features)
    expected = (sac.alpha * log_prob - sac.critic(features, action).mean(dim=0)).mean()
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize(
    "name", ["acrobot-sac-rlpd", "acrobot-rlv-rlpd", "pointmass-sac-rlpd", "pointmass-rlv-rlpd"]
)
def test_rlpd_presets_are_their_base_presets_on_rlpd_critics(name):
    preset, base = PRESETS[name], PRESETS[name.removesuffix("-rlpd")]
    assert preset.sac == dataclasses.replace(base.sac, **RLPD_SAC)
    assert preset == dataclasses.replace(base, sac=preset.sac, updates_per_step=RLPD_UPDATES_PER_STEP)
    if preset.algo == "sac":
        check_config(get_preset(name))


def test_acrobot_rlv_rlpd_trains_and_resumes_exactly(tmp_path, acrobot_dataset, monkeypatch):
    reference = tmp_path / "a"
    command = ["train", "acrobot-rlv-rlpd", *TINY, "--total-steps", "600", "--out", str(reference)]
    assert main([*command, "--rlv.dataset", str(acrobot_dataset)]) == 0
    config = load_config(reference / "config.json")
    assert config.sac.critic_ensemble == 10 and config.updates_per_step == RLPD_UPDATES_PER_STEP
    assert final_agent(reference)["sac"]["critic"]["hidden_norms.0.weight"].shape == (10, 1, 32)

    interrupted = dataclasses.replace(config, out=tmp_path / "b")
    train_interrupted_at(monkeypatch, interrupted, 470)
    resume(interrupted.out, progress=False)
    assert rows(interrupted.out / "eval.csv") == rows(reference / "eval.csv")
    assert rows(interrupted.out / "train.csv") == rows(reference / "train.csv")
    assert_same_state(final_agent(interrupted.out), final_agent(reference))
