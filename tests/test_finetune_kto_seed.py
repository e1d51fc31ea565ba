"""KTO's training seed orders its rows: TRL's KTOTrainer may read them in order, so two seeds would train alike."""

from __future__ import annotations

import dataclasses

import pytest

from pluralstats.finetune.kto import build_trainer
from pluralstats.finetune.kto_config import KTOTrainConfig
from pluralstats.prefs.unpaired import build_unpaired


@pytest.mark.slow  # builds the shared tiny model: over a minute on 2 busy cores
def test_the_seed_changes_the_order_kto_trains_in(tiny_dir, ft_survey, tmp_path):
    base_path, _ = tiny_dir
    dims = {d: dataclasses.replace(v, positive_threshold=3) for d, v in ft_survey.config.dimensions.items()}
    survey = dataclasses.replace(ft_survey, config=dataclasses.replace(ft_survey.config, dimensions=dims))
    frame = build_unpaired(survey, dimensions=["toxicity"], allow_small_groups=True)

    def first_batch(seed: int) -> list[list[int]]:
        config = KTOTrainConfig(seed=seed, max_steps=1, batch_size=8, device="cpu", progress=False,
                                precompute_ref_log_probs=False)
        trainer, _ = build_trainer(frame, str(base_path), config, tmp_path / f"seed-{seed}")
        return next(iter(trainer.get_train_dataloader()))["input_ids"].tolist()

    assert first_batch(0) == first_batch(0)  # a seed is a seed
    assert first_batch(0) != first_batch(1)
