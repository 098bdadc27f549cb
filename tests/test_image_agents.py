"""Image agents on tiny images: the shared encoder is trained by the critic and the alignment losses
only, the actor and inverse model see it without gradient, and alignment really reaches it (but not
with alignment='original', the released code's behaviour). GAIfO's discriminator has its own convs
and never trains the shared encoder."""

import pytest
import torch

from rlv.batches import PairedBatch
from rlv.config import SACConfig
from rlv.methods import BCO, RLV, SAC, Batches, GAIfO, ObservationBatch, RobotBatch
from rlv.methods.bco import BCOConfig
from rlv.methods.gaifo import GAIfOConfig
from rlv.methods.rlv import RLVConfig
from rlv.nets import ImageEncoder, RandomShift
from rlv.presets import RLPD_SAC
from rlv.transfer import DomainAdversary, TransferConfig, inverse_model_anchor_loss

SHAPE, ACT_DIM, B = (16, 16, 3), 2, 8


def images(n, seed):
    return torch.randint(
        0, 256, (n, *SHAPE), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def robot_batch():
    return RobotBatch(
        images(B, 0), torch.rand(B, ACT_DIM) * 2 - 1, torch.zeros(B), images(B, 1), torch.zeros(B)
    )


def obs_batch():
    done = torch.zeros(B)
    done[-1] = 1
    return ObservationBatch(images(B, 2), images(B, 3), done)


def paired_batch():
    return PairedBatch(images(B, 4), images(B, 5))


CRITIC_OPTIONS = {"twin": {}, "rlpd": RLPD_SAC}


def make(algo, critics="twin", **rlv):
    torch.manual_seed(0)
    encoder, augment = ImageEncoder(SHAPE, channels=(4, 4)), RandomShift(2)
    sac_config = SACConfig(hidden=(16,), **CRITIC_OPTIONS[critics])
    if algo == "sac":
        return SAC(0, ACT_DIM, sac_config, encoder=encoder, augment=augment)
    if algo == "bco":  # no critic: `critics` does not apply
        encoders = (encoder, ImageEncoder(SHAPE, channels=(4, 4)))
        return BCO(
            0,
            ACT_DIM,
            SACConfig(hidden=(16,)),
            BCOConfig(idm_hidden=(8,)),
            2,
            encoders=encoders,
            augment=augment,
        )
    if algo == "gaifo":
        sac = SACConfig(hidden=(16,), conv_channels=(4, 4), conv_kernel=3, **CRITIC_OPTIONS[critics])
        options = GAIfOConfig(hidden=(8,), **rlv)
        return GAIfO(
            SHAPE, ACT_DIM, sac, options, encoder=encoder, augment=augment, pair_augment=RandomShift(2)
        )
    return RLV(
        0,
        ACT_DIM,
        sac_config,
        RLVConfig(idm_hidden=(8,), **rlv),
        encoder=encoder,
        augment=augment,
    )


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def sac_of(agent):
    return agent.sac if isinstance(agent, RLV | GAIfO) else agent


@pytest.mark.parametrize("critics", list(CRITIC_OPTIONS))
@pytest.mark.parametrize("algo", ["sac", "rlv", "gaifo"])
def test_critic_trains_encoder_actor_does_not(algo, critics):
    agent = make(algo, critics)
    sac = sac_of(agent)
    encoder, actor = snapshot(sac.encoder), snapshot(sac.actor)
    loss, features, _ = sac.critic_loss(robot_batch())
    sac.step_critic(loss)
    assert changed(encoder, sac.encoder) and not changed(actor, sac.actor)
    encoder = snapshot(sac.encoder)
    sac.update_policy(features.detach())
    assert changed(actor, sac.actor) and not changed(encoder, sac.encoder)


@pytest.mark.parametrize("critics", list(CRITIC_OPTIONS))
@pytest.mark.parametrize("algo", ["sac", "rlv", "gaifo"])
def test_full_image_update_and_action(algo, critics):
    agent = make(algo, critics)
    metrics = (
        agent.update(Batches(robot_batch()))
        if algo == "sac"
        else agent.update(Batches(robot_batch(), obs_batch()))
    )
    assert metrics["loss/critic"] > 0
    action = agent.act(images(1, 9)[0].numpy())
    assert action.shape == (ACT_DIM,) and abs(action).max() <= 1


def test_inverse_model_does_not_train_the_encoder():
    agent = make("rlv")
    encoder, idm = snapshot(agent.sac.encoder), snapshot(agent.idm)
    agent.update_inverse_model(robot_batch())
    assert changed(idm, agent.idm) and not changed(encoder, agent.sac.encoder)


def test_idm_encoder_anchor_trains_the_encoder_not_the_inverse_model():
    agent = make("rlv", idm_encoder_weight=1.0)
    robot = robot_batch()
    features = agent.sac.encoder(robot.obs)
    next_features = agent.sac.encoder(robot.next_obs).detach()
    loss, _ = inverse_model_anchor_loss(agent.idm, features, next_features, robot.action)
    loss.backward()
    assert loss.item() > 0 and sum(float(p.grad.abs().sum()) for p in agent.sac.encoder.parameters()) > 0
    assert all(p.grad is None for p in agent.idm.parameters())


def test_idm_encoder_weight_changes_only_the_encoder_step():
    """Same seed, same batches: the anchor changes the encoder's update; weight 0 is the old update."""
    updates = {}
    for weight in (0.0, 1.0):
        agent = make("rlv", idm_encoder_weight=weight)
        torch.manual_seed(1)
        metrics = agent.update(Batches(robot_batch(), obs_batch()))
        updates[weight] = (snapshot(agent.sac.encoder), snapshot(agent.idm), metrics)
    (encoder_0, idm_0, metrics_0), (encoder_1, idm_1, _) = updates[0.0], updates[1.0]
    assert any(not torch.equal(a, b) for a, b in zip(encoder_0, encoder_1, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(idm_0, idm_1, strict=True))  # d's own step is unchanged
    features = metrics_0["stat/feature_std"]
    assert features > 0 and "stat/feature_std" in RLV.METRICS


def alignment_gradient(alignment, paired=None):
    agent = make("rlv", alignment=alignment, generator_weight=1.0, paired_weight=1.0)
    union = torch.cat([robot_batch().obs, obs_batch().obs])
    features = agent.sac.encoder(union)
    loss, metrics = agent.transfer.alignment_loss(features, B, paired, agent.updates)
    agent.sac.critic_optim.zero_grad(set_to_none=True)
    if loss.requires_grad:
        loss.backward()
    grads = [p.grad for p in agent.sac.encoder.parameters()]
    norm = sum(float(g.abs().sum()) for g in grads if g is not None)
    return norm, metrics, agent


def test_adversarial_alignment_gradient_reaches_the_encoder():
    norm, metrics, agent = alignment_gradient("adversarial")
    assert norm > 0 and metrics["loss/generator"] > 0
    discriminator = agent.transfer.adversary.discriminator
    assert all(p.grad is None for p in discriminator.parameters())  # D is not trained by it


def test_original_alignment_never_reaches_the_encoder():
    norm, metrics, _ = alignment_gradient("original", paired_batch())
    assert norm == 0 and "loss/generator" in metrics and "loss/paired" in metrics


def test_paired_loss_gradient_reaches_the_encoder():
    agent = make("rlv", alignment="adversarial", generator_weight=0.0, paired_weight=1.0)
    loss, metrics = agent.transfer.alignment_loss(
        torch.zeros(2 * B, agent.sac.encoder.out_dim), B, paired_batch(), agent.updates
    )
    loss.backward()
    assert metrics["loss/paired"] > 0
    assert sum(float(p.grad.abs().sum()) for p in agent.sac.encoder.parameters()) > 0


def test_discriminator_step_moves_only_the_discriminator():
    agent = make("rlv", alignment="adversarial")
    adversary = agent.transfer.adversary
    encoder, discriminator = snapshot(agent.sac.encoder), snapshot(adversary.discriminator)
    features = agent.sac.encoder(torch.cat([robot_batch().obs, obs_batch().obs])).detach()
    metrics = adversary.update(features, torch.cat([torch.zeros(B), torch.ones(B)]))
    assert changed(discriminator, adversary.discriminator) and not changed(encoder, agent.sac.encoder)
    assert 0 <= metrics["stat/domain_accuracy"] <= 1


def test_rlv_image_update_with_alignment_moves_discriminator_and_encoder():
    agent = make("rlv", alignment="adversarial")
    adversary = agent.transfer.adversary
    encoder, discriminator = snapshot(agent.sac.encoder), snapshot(adversary.discriminator)
    metrics = agent.update(Batches(robot_batch(), obs_batch(), paired_batch()))
    assert changed(encoder, agent.sac.encoder) and changed(discriminator, adversary.discriminator)
    assert {"loss/domain", "loss/generator", "loss/paired", "stat/domain_accuracy"} <= set(metrics)


@pytest.mark.parametrize("per_sample", [True, False])
def test_random_shift_crops_the_padded_image(per_sample):
    torch.manual_seed(0)
    x = images(32, 7)
    shift = RandomShift(pad=2, per_sample=per_sample)
    y = shift(x)
    padded = torch.nn.functional.pad(x.permute(0, 3, 1, 2).float(), (2,) * 4, mode="replicate")
    offsets = []
    for i in range(len(x)):
        matches = [
            (r, c)
            for r in range(5)
            for c in range(5)
            if torch.equal(padded[i, :, r : r + 16, c : c + 16].permute(1, 2, 0).to(torch.uint8), y[i])
        ]
        assert matches, "each output must be a crop of the padded input"
        offsets.append(matches[0])
    assert (len(set(offsets)) > 1) == per_sample
    shift.eval()
    assert torch.equal(shift(x), x)


def test_scale_free_alignment_ignores_the_features_scale():
    """Shrinking every feature 100x leaves the scale-free generator loss unchanged; the plain one
    falls (the collapse the option prevents)."""
    domain = torch.cat([torch.zeros(B), torch.ones(B)])
    feature_dim = 64  # the features of make()'s encoder
    losses = {}
    for scale_free in (False, True):
        torch.manual_seed(0)
        config = TransferConfig(alignment="adversarial", scale_free_alignment=scale_free)
        adversary = DomainAdversary(feature_dim, config, torch.device("cpu"))
        generator = torch.Generator().manual_seed(0)
        features = torch.randn(2 * B, feature_dim, generator=generator)
        features[B:] += 1.0  # the domains differ
        for _ in range(100):
            adversary.update(features, domain)
        with torch.no_grad():
            shrunk = [adversary.encoder_loss(features * k, domain, step=0)[0] for k in (1.0, 0.01)]
        losses[scale_free] = [loss.item() for loss in shrunk]
    plain, scale_free = losses[False], losses[True]
    assert abs(scale_free[0] - scale_free[1]) < 1e-3 * scale_free[0] and scale_free[0] > 1.0
    assert plain[1] < 0.5 * plain[0]


class Scaled(torch.nn.Module):
    def __init__(self, encoder, scale):
        super().__init__()
        self.encoder, self.scale, self.out_dim = encoder, scale, encoder.out_dim

    def forward(self, obs):
        return self.encoder(obs) * self.scale


@pytest.mark.parametrize("scale_free", [False, True])
def test_paired_loss_scale(scale_free):
    """The scale-free paired loss is relative to the features' spread: the same at any scale."""
    agent = make("rlv", alignment="adversarial", scale_free_alignment=scale_free, generator_weight=0.0)
    base, values = agent.sac.encoder, []
    for scale in (1.0, 0.01):
        agent.sac.encoder = Scaled(base, scale)
        torch.manual_seed(3)  # the same augmentation
        features = torch.zeros(2 * B, base.out_dim)
        _, metrics = agent.transfer.alignment_loss(features, B, paired_batch(), agent.updates)
        values.append(metrics["loss/paired"])
    assert values[0] > 0
    if scale_free:
        assert abs(values[0] - values[1]) < 1e-3 * values[0]
    else:
        assert abs(values[1] - 1e-4 * values[0]) < 1e-6 * values[0]


def test_bco_image_losses_train_their_own_encoder_only():
    agent = make("bco")
    policy = {"encoder": agent.encoder, "actor": agent.actor}
    idm = {"idm_encoder": agent.idm_encoder, "idm": agent.idm}
    modules = policy | idm | {"behaviour_encoder": agent.behaviour_encoder}
    for step, trained in ((agent.update_inverse_model, idm), (agent.update_policy, policy)):
        before = {name: snapshot(module) for name, module in modules.items()}
        metrics = step(robot_batch() if step == agent.update_inverse_model else obs_batch())
        assert {name for name, module in modules.items() if changed(before[name], module)} == set(trained)
        assert all(value > 0 for key, value in metrics.items() if key.startswith("loss/"))


def test_bco_image_update_and_action():
    agent = make("bco")
    for _ in range(3):  # inverse model, policy, then a new round (the behaviour copy from the policy)
        metrics = agent.update(Batches(robot_batch(), obs_batch()))
    assert metrics["stat/round"] == 1.0 and "loss/idm" in metrics
    frame = images(1, 9)[0].numpy()
    for deterministic in (True, False):
        action = agent.act(frame, deterministic)
        assert action.shape == (ACT_DIM,) and abs(action).max() <= 1


@pytest.mark.parametrize("regulariser", ["gradient-penalty", "spectral-norm"])
def test_gaifo_discriminator_has_its_own_convs(regulariser):
    agent = make("gaifo", regulariser=regulariser)
    sac = agent.sac
    encoder, actor, critic = snapshot(sac.encoder), snapshot(sac.actor), snapshot(sac.critic)
    discriminator = snapshot(agent.discriminator)
    metrics = agent.update_discriminator(robot_batch(), obs_batch())
    assert changed(discriminator, agent.discriminator) and metrics["loss/discriminator"] > 0
    assert not any(
        changed(before, net)
        for before, net in zip((encoder, actor, critic), (sac.encoder, sac.actor, sac.critic), strict=True)
    )
    encoder = snapshot(sac.encoder)
    agent.update(Batches(robot_batch(), obs_batch()))
    assert changed(encoder, sac.encoder)  # the critic still trains the shared encoder
    assert agent.rewards(robot_batch()).shape == (B,)


def test_gaifo_pairs_are_shifted_alike():
    agent = make("gaifo")
    frames = images(B, 6)
    torch.manual_seed(0)
    stacked = agent.pair_augment(agent.discriminator.stack(frames, frames))  # o' = o
    assert stacked.shape == (B, *SHAPE[:2], 6) and not torch.equal(stacked[..., :3], frames)
    assert torch.equal(stacked[..., :3], stacked[..., 3:])  # one offset for both frames: no fake motion
    inputs = agent.discriminator.scale(stacked)
    assert inputs.shape == (B, 6, *SHAPE[:2]) and inputs.min() >= -1.0 and inputs.max() <= 1.0


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"alignment": "dann"},
        {"paired_dataset": "pairs", "contrastive_weight": 1.0},
        {"paired_dataset": "pairs", "paired_weight": 1.0, "temporal_weight": 1.0},
    ],
)
def test_rlv_columns_are_the_metrics_its_options_fill(options):
    """train.csv gets agent.METRICS: every one is filled by some update (the dataset-dependent label
    scores aside), and no update returns a key outside them."""
    agent = make("rlv", **options)
    paired = paired_batch() if "paired_dataset" in options else None
    seen = set()
    for _ in range(3):
        seen |= set(agent.update(Batches(robot_batch(), obs_batch(), paired)))
    assert seen <= set(agent.METRICS)
    dataset_scores = {"stat/idm_obs_action_mse", "stat/obs_action_chance_mse"}
    assert set(agent.METRICS) - dataset_scores == seen
    assert ("stat/domain_accuracy" in agent.METRICS) == ("alignment" in options)


@pytest.mark.parametrize("regulariser", ["gradient-penalty", "spectral-norm"])
def test_gaifo_columns_follow_the_regulariser(regulariser):
    agent = make("gaifo", regulariser=regulariser)
    assert ("loss/gradient_penalty" in agent.METRICS) == (regulariser == "gradient-penalty")
