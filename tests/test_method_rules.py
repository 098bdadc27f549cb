"""Each method's own rules on state tasks: RLV's inverse model, relabelled rewards, action labels
and union batch; BCO's rounds, cloning and behaviour copy; GAIfO's discriminator and reward. (The
contract tests every agent passes, and the helpers used here: test_agents.py.)"""

import pytest
import torch
from test_agents import (
    ACT_DIM,
    BCO_ROUND,
    OBS_DIM,
    SAC_CONFIG,
    B,
    N,
    make,
    moved,
    obs_batch,
    robot_batch,
    snapshot,
    update,
)

from rlv.config import SACConfig
from rlv.methods import BCO, RLV, Batches, GAIfO, ObservationBatch, RobotBatch
from rlv.methods.bco import BCOConfig


def test_inverse_model_step_moves_only_the_inverse_model():
    agent = make("rlv")
    before = snapshot(agent)
    agent.update_inverse_model(robot_batch())
    assert moved(before, snapshot(agent)) == {"idm"}


def test_inverse_model_loss_uses_robot_rows_only():
    agent = make("rlv")
    robot = robot_batch()
    loss, _ = agent.inverse_model_loss(robot)
    expected = torch.nn.functional.mse_loss(agent.idm(robot.obs, robot.next_obs), robot.action)
    torch.testing.assert_close(loss, expected)


def test_reward_relabel_rule():
    agent = make("rlv", reward_scale=10.0, reward_bottom=-1.0)
    rewards = agent.relabel_rewards(obs_batch())
    assert rewards[:-2].eq(-1.0).all() and rewards[-2:].eq(10.0).all()
    agent = make("rlv", reward_scale=10.0, reward_bottom=0.0)
    assert agent.relabel_rewards(obs_batch()).tolist() == [0.0] * (N - 2) + [10.0, 10.0]
    assert make("rlv", reward_source="true").relabel_rewards(obs_batch()).eq(-1.0).all()


def test_action_sources():
    batch = obs_batch()
    actions, metrics = make("rlv", action_source="oracle").label_actions(batch)
    assert torch.equal(actions, batch.true_action) and metrics["stat/idm_obs_action_mse"] == 0.0
    assert make("rlv", action_source="zero").label_actions(batch)[0].eq(0).all()
    agent = make("rlv")
    actions, metrics = agent.label_actions(batch)
    torch.testing.assert_close(actions, agent.idm(batch.obs, batch.next_obs))
    error = torch.nn.functional.mse_loss(actions, batch.true_action).item()
    assert metrics["stat/idm_obs_action_mse"] == pytest.approx(error)


def test_clipped_labels_stay_in_the_action_box():
    batch = obs_batch()
    agent = make("rlv", clip_labels=True)
    with torch.no_grad():  # an inverse model whose raw outputs leave the box
        agent.idm.net[-1].bias.fill_(3.0)
    raw = agent.idm(batch.obs, batch.next_obs)
    assert raw.abs().max() > 1.0
    actions, _ = agent.label_actions(batch)
    torch.testing.assert_close(actions, raw.clamp(-1.0, 1.0))
    assert not make("rlv").config.clip_labels  # off by default: the original's unclipped labels


def record_critic_batch(agent: RLV | GAIfO) -> dict[str, RobotBatch]:
    """Make the agent's SAC learner record, under "batch", the batch its critic loss gets."""
    seen = {}
    original = agent.sac.critic_loss

    def spy(batch, encoded=None):
        seen["batch"] = batch
        return original(batch, encoded)

    agent.sac.critic_loss = spy
    return seen


def test_rlv_critic_sees_the_union_batch():
    agent = make("rlv", reward_scale=10.0, reward_bottom=-1.0)
    seen = record_critic_batch(agent)
    update(agent)
    union = seen["batch"]
    assert len(union.obs) == B + N
    assert torch.equal(union.done[B:], obs_batch(100).done)
    assert union.reward[B:].tolist() == [-1.0] * (N - 2) + [10.0, 10.0]


def test_bco_inverse_model_step_moves_only_the_inverse_model():
    agent = make("bco")
    before = snapshot(agent)
    metrics = agent.update_inverse_model(robot_batch())
    assert moved(before, snapshot(agent)) == {"idm"} and metrics["loss/idm"] > 0
    assert all(p.grad is None for p in agent.actor.parameters())


def test_bco_cloning_step_moves_only_the_policy():
    agent = make("bco")
    before = snapshot(agent)
    metrics = agent.update_policy(obs_batch())
    assert moved(before, snapshot(agent)) == {"actor"}  # not the inverse model, not the behaviour copy
    assert all(p.grad is None for p in agent.idm.parameters())  # the labels carry no graph
    assert {"loss/bc", "stat/idm_obs_action_mse", "stat/obs_action_chance_mse"} <= set(metrics)


def test_bco_cloning_loss_is_the_policy_likelihood_of_the_labels():
    agent = make("bco")
    batch = obs_batch()
    labels = agent.label_actions(batch)
    torch.testing.assert_close(labels, agent.idm(batch.obs, batch.next_obs))
    loss, _ = agent.bc_loss(batch.obs, labels)
    mean, log_std = agent.actor(batch.obs)
    pre_tanh = torch.atanh(labels.clamp(-0.999, 0.999))
    expected = -torch.distributions.Normal(mean, log_std.exp()).log_prob(pre_tanh).sum(-1).mean()
    torch.testing.assert_close(loss, expected)


def test_bco_rounds_train_the_inverse_model_then_the_policy_then_refresh_the_behaviour():
    agent = make("bco", idm_fraction=0.5)
    phases, rounds = [], []
    for step in range(2 * BCO_ROUND):
        before = snapshot(agent)
        actor_before = [p.detach().clone() for p in agent.actor.parameters()]
        metrics = update(agent, step)
        phases.append(moved(before, snapshot(agent)))
        rounds.append(metrics["stat/round"])
        if step == BCO_ROUND:  # the round's first update: the behaviour copy is the policy as it was
            assert all(
                torch.equal(a, b)
                for a, b in zip(actor_before, agent.behaviour_actor.parameters(), strict=True)
            )
    assert (
        phases
        == [{"idm"}, {"idm"}, {"actor"}, {"actor"}, {"idm", "behaviour_actor"}, {"idm"}] + [{"actor"}] * 2
    )
    assert rounds == [0.0] * BCO_ROUND + [1.0] * BCO_ROUND


def test_bco_explores_with_the_behaviour_copy_and_evaluates_the_newest_policy():
    agent = make("bco")
    for step in range(BCO_ROUND):  # a round: the policy moved, the behaviour copy did not yet
        update(agent, step)
    obs = robot_batch().obs[0]
    newest = torch.tanh(agent.actor(obs[None])[0])[0]
    torch.testing.assert_close(torch.as_tensor(agent.act(obs.numpy(), deterministic=True)), newest)
    torch.manual_seed(11)
    explored = agent.act(obs.numpy())
    torch.manual_seed(11)
    expected = agent.behaviour_actor.sample(obs[None])[0][0]
    torch.testing.assert_close(torch.as_tensor(explored), expected.detach())
    assert not torch.allclose(agent.behaviour_actor.deterministic(obs[None]), newest)


def test_bco_needs_rounds_of_at_least_two_updates():
    with pytest.raises(ValueError, match="at least 2"):
        BCO(OBS_DIM, ACT_DIM, SAC_CONFIG, BCOConfig(), 1)


def test_bco_clones_an_expert_it_only_observed():
    """Robot dynamics s' = s + 0.5 a (first coordinate); the 'videos' show an expert a = -tanh(2 s_0)
    without its actions. Inverse model, labels and cloning must recover the expert's actions."""
    torch.manual_seed(0)
    agent = BCO(
        2,
        1,
        SACConfig(hidden=(32, 32), lr=1e-3),
        BCOConfig(idm_hidden=(32,), idm_lr=3e-3, bc_lr=3e-3),
        round_updates=400,
    )
    g = torch.Generator().manual_seed(0)

    def step(obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return obs + 0.5 * torch.cat([action, torch.zeros_like(action)], dim=1)

    def expert(obs: torch.Tensor) -> torch.Tensor:
        return -torch.tanh(2 * obs[:, :1])

    states = torch.randn(2000, 2, generator=g)
    probe = torch.randn(500, 2, generator=g)
    error_before = torch.nn.functional.mse_loss(agent.actor.deterministic(probe), expert(probe)).item()
    for _ in range(2 * 400):
        rows = torch.randint(0, len(states), (64,), generator=g)
        s, a = states[rows], torch.rand(64, 1, generator=g) * 2 - 1
        robot = RobotBatch(s, a, torch.zeros(64), step(s, a), torch.zeros(64))
        o = states[torch.randint(0, len(states), (64,), generator=g)]
        observation = ObservationBatch(o, step(o, expert(o)), torch.zeros(64))
        agent.update(Batches(robot, observation))
    with torch.no_grad():
        error_after = torch.nn.functional.mse_loss(agent.actor.deterministic(probe), expert(probe)).item()
    assert error_after < 0.02 < error_before


@pytest.mark.parametrize("regulariser", ["gradient-penalty", "spectral-norm", "none"])
def test_discriminator_step_moves_only_the_discriminator(regulariser):
    agent = make("gaifo", regulariser=regulariser)
    before = snapshot(agent)
    metrics = agent.update_discriminator(robot_batch(), obs_batch())
    assert moved(before, snapshot(agent)) == {"discriminator"}
    assert all(p.grad is None for p in agent.sac.critic.parameters())
    assert ("loss/gradient_penalty" in metrics) == (regulariser == "gradient-penalty")


def test_sac_is_rewarded_by_the_discriminator_not_the_env():
    agent = make("gaifo")
    seen = record_critic_batch(agent)
    robot = robot_batch()
    update(agent)
    logits = agent.discriminator(robot.obs, robot.next_obs).detach()
    torch.testing.assert_close(seen["batch"].reward, logits)  # log-odds: r = log D - log(1 - D)
    assert not torch.equal(seen["batch"].reward, robot.reward)
    assert torch.equal(seen["batch"].done, robot.done)  # robot rows keep their own terminals

    other_reward = robot._replace(reward=torch.randn(B) * 10)
    a, b = make("gaifo", seed=2), make("gaifo", seed=2)
    torch.manual_seed(1)
    metrics_a = a.update(Batches(robot, obs_batch()))
    torch.manual_seed(1)
    metrics_b = b.update(Batches(other_reward, obs_batch()))
    assert moved(snapshot(a), snapshot(b)) == set()  # the env reward changes nothing it learns
    assert metrics_a.pop("stat/env_reward_mean") != metrics_b.pop("stat/env_reward_mean")
    assert metrics_a == metrics_b


def test_reward_forms():
    from rlv.methods.gaifo import reward_of_logits

    logits = torch.tensor([-3.0, -0.5, 0.0, 2.0])
    probability = torch.sigmoid(logits)
    log_odds = probability.log() - (1 - probability).log()
    torch.testing.assert_close(reward_of_logits(logits, "log-odds"), log_odds)
    torch.testing.assert_close(reward_of_logits(logits, "gaifo"), -(1 - probability).log())
    torch.testing.assert_close(reward_of_logits(logits, "log-d"), probability.log())
    assert reward_of_logits(logits, "gaifo").gt(0).all() and reward_of_logits(logits, "log-d").lt(0).all()
    big = torch.tensor([-200.0, 200.0])
    assert all(torch.isfinite(reward_of_logits(big, form)).all() for form in ("gaifo", "log-d"))


def test_gradient_penalty_of_a_linear_discriminator():
    agent = make("gaifo", hidden=())  # logit = w . [s, s'] + b: the gradient is w everywhere
    weight = agent.discriminator.head[0].weight
    penalty = agent.gradient_penalty(torch.randn(N, 2 * OBS_DIM), torch.randn(B, 2 * OBS_DIM))
    torch.testing.assert_close(penalty, (weight.norm() - 1).pow(2))


def test_discriminator_tells_expert_from_robot_and_rewards_expert_like_transitions():
    agent = make("gaifo", lr=1e-2)
    robot, expert = robot_batch(), obs_batch()
    expert = expert._replace(obs=expert.obs + 2.0, next_obs=expert.next_obs + 2.0)
    for _ in range(100):
        metrics = agent.update_discriminator(robot, expert)
    assert metrics["stat/discriminator_accuracy"] == 1.0
    assert metrics["stat/expert_probability"] > 0.7 > 0.3 > metrics["stat/robot_probability"]
    expert_like = robot._replace(obs=expert.obs, next_obs=expert.next_obs)
    assert agent.rewards(expert_like).min() > agent.rewards(robot).max()


def test_spectrally_normalised_discriminator_round_trips(tmp_path):
    agent = make("gaifo", regulariser="spectral-norm")
    update(agent)
    torch.save(agent.state_dict(), tmp_path / "agent.pt")
    clone = make("gaifo", seed=9, regulariser="spectral-norm")
    clone.load_state_dict(torch.load(tmp_path / "agent.pt", weights_only=True))
    torch.manual_seed(5)
    next_a = update(agent, 3)
    torch.manual_seed(5)
    assert update(clone, 3) == next_a  # power-iteration vectors came along with the weights
