"""Toy domain shift: point-mass frames in the robot and the human rendering. A shared encoder learns
a task (regress the mass's position) from robot frames only, while the adversarial alignment of RLV's
transfer terms (`agent.transfer`, a `DomainTransfer`) pushes robot and human features together.
With alignment the discriminator's accuracy falls toward chance while the task stays solved; with
the original release's behaviour (alignment='original') the discriminator keeps telling the domains
apart."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from rlv.config import SACConfig
from rlv.envs.pointmass import render_state
from rlv.methods import RLV
from rlv.methods.rlv import RLVConfig
from rlv.nets import ImageEncoder

POOL, BATCH = 384, 48


def frames(domain, seed):
    positions = np.random.default_rng(seed).uniform(-0.9, 0.9, size=(POOL, 2))
    images = np.stack([render_state(p, domain) for p in positions])
    return torch.as_tensor(images), torch.as_tensor(positions, dtype=torch.float32)


def train_toy(alignment, steps=400):
    torch.manual_seed(0)
    encoder = ImageEncoder((48, 48, 3), channels=(8, 8, 8), kernel=3)
    agent = RLV(
        0,
        2,
        SACConfig(hidden=(16,)),
        RLVConfig(alignment=alignment, generator_weight=0.5),
        encoder=encoder,
        augment=nn.Identity(),
    )
    head = nn.Linear(encoder.out_dim, 2)
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=1e-3)
    (robot, robot_pos), (human, _) = frames("robot", 0), frames("human", 1)  # human labels unused
    rng = np.random.default_rng(0)
    accuracy = []
    for _ in range(steps):
        r, h = rng.integers(0, POOL, BATCH), rng.integers(0, POOL, BATCH)  # unpaired draws
        features = encoder(torch.cat([robot[r], human[h]]))
        task = F.mse_loss(head(features[:BATCH]), robot_pos[r])
        alignment_loss, _ = agent.transfer.alignment_loss(features, BATCH, None, agent.updates)
        optimizer.zero_grad(set_to_none=True)
        (task + alignment_loss).backward()
        optimizer.step()
        accuracy.append(agent.after_encoder_step(features.detach(), BATCH)["stat/domain_accuracy"])
    with torch.no_grad():
        test_robot, test_robot_pos = frames("robot", 2)
        test_human, test_human_pos = frames("human", 3)
        robot_rmse = F.mse_loss(head(encoder(test_robot)), test_robot_pos).sqrt().item()
        human_rmse = F.mse_loss(head(encoder(test_human)), test_human_pos).sqrt().item()
    return float(np.mean(accuracy[-100:])), robot_rmse, human_rmse


def test_alignment_drives_the_discriminator_to_chance_while_the_task_is_solved():
    accuracy, robot_rmse, human_rmse = train_toy("adversarial")
    original_accuracy, original_robot_rmse, original_human_rmse = train_toy("original")
    print(f"adversarial: accuracy {accuracy:.2f} robot rmse {robot_rmse:.3f} human rmse {human_rmse:.3f}")
    print(
        f"original: accuracy {original_accuracy:.2f} robot rmse {original_robot_rmse:.3f} "
        f"human rmse {original_human_rmse:.3f}"
    )
    assert original_accuracy > 0.9, "the toy shift must be easy to detect without alignment"
    assert accuracy < 0.7
    assert robot_rmse < 0.2, "the aligned encoder must still solve the task (position std is 0.52)"
    assert human_rmse < original_human_rmse


@pytest.mark.parametrize("alignment", ["adversarial"])
def test_alignment_toy_is_deterministic(alignment):
    assert train_toy(alignment, steps=5) == train_toy(alignment, steps=5)
