"""Contract tests, parametrised over the agents and over their critics (SAC's twin critics and
RLPD's: LayerNorm, 10 critics, target min of 2, mean-Q actor): each loss moves only its own
parameters, seeded runs are identical, state dicts round-trip. The helpers here (state batches,
`make`, `update`, parameter snapshots) are shared with the tests of each method's own rules
(test_method_rules.py: RLV's relabelling, BCO's rounds, GAIfO's reward)."""

import dataclasses

import pytest
import torch

from rlv.config import SACConfig
from rlv.methods import BCO, RLV, SAC, Batches, GAIfO, ObservationBatch, RobotBatch
from rlv.methods.bco import BCOConfig
from rlv.methods.gaifo import GAIfOConfig
from rlv.methods.rlv import RLVConfig
from rlv.presets import RLPD_SAC

SAC_CONFIG = SACConfig(hidden=(32, 32))
CRITIC_OPTIONS: dict[str, dict[str, object]] = {"twin": {}, "rlpd": RLPD_SAC}
CRITICS = list(CRITIC_OPTIONS)
OBS_DIM, ACT_DIM, B, N = 6, 1, 16, 12


def robot_batch(seed: int = 0) -> RobotBatch:
    g = torch.Generator().manual_seed(seed)
    return RobotBatch(
        obs=torch.randn(B, OBS_DIM, generator=g),
        action=torch.rand(B, ACT_DIM, generator=g) * 2 - 1,
        reward=-torch.ones(B),
        next_obs=torch.randn(B, OBS_DIM, generator=g),
        done=(torch.rand(B, generator=g) < 0.2).float(),
    )


def obs_batch(seed: int = 1) -> ObservationBatch:
    g = torch.Generator().manual_seed(seed)
    done = torch.zeros(N)
    done[-2:] = 1.0
    return ObservationBatch(
        obs=torch.randn(N, OBS_DIM, generator=g),
        next_obs=torch.randn(N, OBS_DIM, generator=g),
        done=done,
        true_action=torch.rand(N, ACT_DIM, generator=g) * 2 - 1,
        true_reward=torch.full((N,), -1.0),
    )


BCO_ROUND = 4
"""Updates per BCO round in these tests: two inverse-model steps, then two policy steps."""

Agent = SAC | RLV | BCO | GAIfO


def make(algo: str, seed: int = 0, critics: str = "twin", **options: object) -> Agent:
    torch.manual_seed(seed)
    config = dataclasses.replace(SAC_CONFIG, **CRITIC_OPTIONS[critics])
    if algo == "sac":
        return SAC(OBS_DIM, ACT_DIM, config)
    if algo == "bco":  # no critic: `critics` does not apply
        return BCO(OBS_DIM, ACT_DIM, SAC_CONFIG, BCOConfig(idm_hidden=(16,), **options), BCO_ROUND)
    if algo == "gaifo":
        return GAIfO((OBS_DIM,), ACT_DIM, config, GAIfOConfig(**({"hidden": (16,)} | options)))
    return RLV(OBS_DIM, ACT_DIM, config, RLVConfig(idm_hidden=(16,), **options))


def update(agent: Agent, seed: int = 0) -> dict[str, float]:
    if isinstance(agent, RLV | BCO | GAIfO):
        return agent.update(Batches(robot_batch(seed), obs_batch(seed + 100)))
    return agent.update(Batches(robot_batch(seed)))


def sac_of(agent: Agent) -> SAC:
    return agent.sac if isinstance(agent, RLV | GAIfO) else agent


def param_groups(agent: Agent) -> dict[str, list[torch.Tensor]]:
    if isinstance(agent, BCO):
        return {
            "actor": list(agent.actor.parameters()),
            "behaviour_actor": list(agent.behaviour_actor.parameters()),
            "idm": list(agent.idm.parameters()),
        }
    sac = sac_of(agent)
    groups = {
        "actor": list(sac.actor.parameters()),
        "critic": list(sac.critic.parameters()),
        "critic_target": list(sac.critic_target.parameters()),
        "log_alpha": [sac.log_alpha],
    }
    if isinstance(agent, RLV):
        groups["idm"] = list(agent.idm.parameters())
    if isinstance(agent, GAIfO):
        groups["discriminator"] = list(agent.discriminator.parameters())
    return groups


def moved(before: dict[str, list[torch.Tensor]], after: dict[str, list[torch.Tensor]]) -> set[str]:
    return {
        name
        for name in before
        if any(not torch.equal(a, b) for a, b in zip(before[name], after[name], strict=True))
    }


def snapshot(agent: Agent) -> dict[str, list[torch.Tensor]]:
    return {name: [p.detach().clone() for p in params] for name, params in param_groups(agent).items()}


ALGOS = ["sac", "rlv", "gaifo"]
"""The SAC-based agents (critic, actor and temperature steps)."""
ALL_ALGOS = [*ALGOS, "bco"]
UPDATES_TO_TRAIN_ALL = {"sac": 1, "rlv": 1, "gaifo": 1, "bco": BCO_ROUND + 1}
"""Updates after which every trained parameter has moved (BCO: a round, then the behaviour copy)."""
ALL_CASES = [
    (algo, critics) for algo in ALL_ALGOS for critics in CRITICS if algo != "bco" or critics == "twin"
]
"""(agent, critics) pairs of the whole-agent tests; BCO has no critic."""


@pytest.mark.parametrize("critics", CRITICS)
@pytest.mark.parametrize("algo", ALGOS)
def test_critic_step_moves_only_the_critic(algo, critics):
    agent = make(algo, critics=critics)
    before = snapshot(agent)
    sac_of(agent).update_critic(robot_batch())
    assert moved(before, snapshot(agent)) == {"critic"}  # never idm, discriminator, actor or targets


@pytest.mark.parametrize("critics", CRITICS)
@pytest.mark.parametrize("algo", ALGOS)
def test_actor_step_moves_only_the_actor(algo, critics):
    agent = make(algo, critics=critics)
    before = snapshot(agent)
    sac_of(agent).update_actor(robot_batch().obs)
    assert moved(before, snapshot(agent)) == {"actor"}
    assert all(p.grad is None for p in sac_of(agent).critic.parameters())


@pytest.mark.parametrize("critics", CRITICS)
@pytest.mark.parametrize("algo", ALGOS)
def test_alpha_step_moves_only_alpha(algo, critics):
    agent = make(algo, critics=critics)
    before = snapshot(agent)
    sac_of(agent).update_alpha(torch.full((B,), 3.0))
    assert moved(before, snapshot(agent)) == {"log_alpha"}


@pytest.mark.parametrize("critics", CRITICS)
@pytest.mark.parametrize("algo", ALGOS)
def test_target_update_is_polyak(algo, critics):
    agent = make(algo, critics=critics)
    sac = sac_of(agent)
    with torch.no_grad():
        for p in sac.critic.parameters():
            p.add_(1.0)
    target_before = [p.clone() for p in sac.critic_target.parameters()]
    sac.update_target()
    tau = sac.config.tau
    for old, new, online in zip(
        target_before, sac.critic_target.parameters(), sac.critic.parameters(), strict=True
    ):
        torch.testing.assert_close(new, (1 - tau) * old + tau * online)


@pytest.mark.parametrize(("algo", "critics"), ALL_CASES)
def test_full_update_moves_everything_it_trains(algo, critics):
    agent = make(algo, critics=critics)
    before = snapshot(agent)
    metrics = [update(agent, seed) for seed in range(UPDATES_TO_TRAIN_ALL[algo])]
    assert moved(before, snapshot(agent)) == set(param_groups(agent))
    for step in metrics:
        assert set(step) <= set(agent.METRICS)
        assert all(torch.isfinite(torch.tensor(v)) for v in step.values())


@pytest.mark.parametrize(("algo", "critics"), ALL_CASES)
def test_seeded_runs_are_identical(algo, critics):
    a, b = make(algo, seed=3, critics=critics), make(algo, seed=3, critics=critics)
    torch.manual_seed(7)
    metrics_a = [update(a, s) for s in range(UPDATES_TO_TRAIN_ALL[algo] + 2)]
    torch.manual_seed(7)
    metrics_b = [update(b, s) for s in range(UPDATES_TO_TRAIN_ALL[algo] + 2)]
    assert metrics_a == metrics_b
    assert moved(snapshot(a), snapshot(b)) == set()
    c = make(algo, seed=4, critics=critics)
    assert moved(snapshot(a), snapshot(c))  # another seed gives other networks


@pytest.mark.parametrize(("algo", "critics"), ALL_CASES)
def test_save_load_round_trip(algo, critics, tmp_path):
    agent = make(algo, seed=0, critics=critics)
    for s in range(UPDATES_TO_TRAIN_ALL[algo] + 1):
        update(agent, s)
    torch.save(agent.state_dict(), tmp_path / "agent.pt")
    clone = make(algo, seed=99, critics=critics)
    clone.load_state_dict(torch.load(tmp_path / "agent.pt", weights_only=True))
    assert moved(snapshot(agent), snapshot(clone)) == set()
    torch.manual_seed(5)
    next_a = update(agent, 9)
    torch.manual_seed(5)
    next_b = update(clone, 9)  # optimizer state came along too: the next step is identical
    assert next_a == next_b
    assert moved(snapshot(agent), snapshot(clone)) == set()


def test_actor_log_prob_matches_tanh_gaussian_density():
    torch.manual_seed(0)
    agent = make("sac")
    obs = torch.randn(4000, OBS_DIM)
    with torch.no_grad():
        action, log_prob = agent.actor.sample(obs[:1].expand(4000, -1))
        mean, log_std = agent.actor(obs[:1])
        base = torch.distributions.Normal(mean, log_std.exp())
        pre = torch.atanh(action.clamp(-0.999999, 0.999999))
        reference = (base.log_prob(pre) - torch.log1p(-action.pow(2) + 1e-12)).sum(-1)
    torch.testing.assert_close(log_prob, reference, atol=2e-2, rtol=1e-3)
