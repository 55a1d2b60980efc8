"""LoRA fine-tuning with peft: checkpoints, resume after interruption, step and time budgets.

The batch of step ``k`` is a pure function of the seed and ``k`` (the example order is a seeded
permutation per epoch), so a run resumed from a checkpoint sees exactly the batches an
uninterrupted run would have seen. A checkpoint holds the adapter, optimizer, scheduler and RNG
states; it is written to a temporary folder and renamed, so an interruption never leaves half of one.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from causerie.localize.chatmix import IGNORE, Example
from causerie.localize.errors import LocalizeError
from causerie.localize.options import TrainOptions
from causerie.localize.progress import ProgressSink

if TYPE_CHECKING:
    import torch
    from peft import PeftModel
    from transformers import PreTrainedModel

STATE_FILE = "trainer_state.pt"
KEEP_CHECKPOINTS = 2


class TrainResult(BaseModel):
    steps: int
    resumed_from: int | None
    losses: list[float]
    """Mean loss of each step, from step 1 (those before a resume come from the checkpoint)."""
    seconds: float
    stopped_by: str
    """'max_steps' or 'time_budget'."""
    trainable_parameters: int


def attach_lora(model: PreTrainedModel, options: TrainOptions, new_token_ids: Sequence[int] = ()) -> PeftModel:
    """Wrap ``model`` with LoRA adapters on every linear layer; new token rows, if any, are trained too."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=options.lora_r,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
        trainable_token_indices={"embed_tokens": list(new_token_ids)} if new_token_ids else None,
    )
    return get_peft_model(model, config)


def batch_indices(step: int, size: int, count: int, seed: int) -> list[int]:
    """Example indices of 0-based ``step``: consecutive slices of a per-epoch seeded permutation."""
    out: list[int] = []
    position = step * size
    while len(out) < size:
        epoch, offset = divmod(position, count)
        order = list(range(count))
        random.Random(seed * 1_000_003 + epoch).shuffle(order)
        take = min(size - len(out), count - offset)
        out.extend(order[offset : offset + take])
        position += take
    return out


def collate(examples: Sequence[Example], pad_id: int, device: str) -> dict[str, torch.Tensor]:
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        mask[row, :n] = 1
    return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device)}


def latest_checkpoint(folder: Path) -> Path | None:
    found = [p for p in folder.glob("step-*") if (p / STATE_FILE).is_file()]
    return max(found, key=lambda p: int(p.name.split("-")[1]), default=None)


def train(
    model: PeftModel,
    examples: Sequence[Example],
    options: TrainOptions,
    checkpoints: Path,
    *,
    pad_id: int,
    device: str,
    progress: ProgressSink,
) -> TrainResult:
    """Train until ``options.max_steps`` (or the time budget), resuming from the latest checkpoint in ``checkpoints``."""
    import torch
    from transformers import get_cosine_schedule_with_warmup

    if not examples:
        raise LocalizeError("no training examples could be built from the corpus", param="corpus")
    model.to(device)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=options.learning_rate)
    scheduler = get_cosine_schedule_with_warmup(optimizer, options.warmup_steps, options.max_steps)
    torch.manual_seed(options.seed)
    step, resumed = 0, None
    losses: list[float] = []
    if (last := latest_checkpoint(checkpoints)) is not None:
        step, losses = _load_checkpoint(last, model, optimizer, scheduler)
        resumed = step
    started = time.monotonic()
    budget = options.max_minutes * 60 if options.max_minutes else math.inf
    stopped_by = "max_steps"
    progress("train", step, options.max_steps)
    try:
        while step < options.max_steps:
            if time.monotonic() - started >= budget:
                stopped_by = "time_budget"
                break
            batch = [examples[i] for i in batch_indices(step, options.batch_size, len(examples), options.seed)]
            loss = model(**collate(batch, pad_id, device)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(float(loss.detach()))
            if step % options.save_every == 0 or step == options.max_steps:
                _save_checkpoint(checkpoints, step, losses, model, optimizer, scheduler)
            progress("train", step, options.max_steps, loss=losses[-1])
    except BaseException:  # interrupted (Ctrl-C, job cancelled, error): keep the steps done so far
        if losses:
            _save_checkpoint(checkpoints, step, losses, model, optimizer, scheduler)
        raise
    if losses:
        _save_checkpoint(checkpoints, step, losses, model, optimizer, scheduler)
    model.eval()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return TrainResult(
        steps=step,
        resumed_from=resumed,
        losses=losses,
        seconds=time.monotonic() - started,
        stopped_by=stopped_by,
        trainable_parameters=trainable,
    )


def _save_checkpoint(folder: Path, step: int, losses: list[float], model: Any, optimizer: Any, scheduler: Any) -> None:
    import torch

    target = folder / f"step-{step}"
    if (target / STATE_FILE).is_file():
        return
    temp = folder / f".step-{step}.tmp"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    model.save_pretrained(temp / "adapter")
    torch.save(
        {
            "step": step,
            "losses": losses,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(),
        },
        temp / STATE_FILE,
    )
    (temp / "meta.json").write_text(json.dumps({"step": step, "loss": losses[-1]}) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    temp.rename(target)
    older = sorted(folder.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))[:-KEEP_CHECKPOINTS]
    for path in older:
        shutil.rmtree(path, ignore_errors=True)


def _load_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any) -> tuple[int, list[float]]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    state = torch.load(path / STATE_FILE, weights_only=False)
    set_peft_model_state_dict(model, load_file(path / "adapter" / "adapter_model.safetensors"))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    return int(state["step"]), list(state["losses"])
