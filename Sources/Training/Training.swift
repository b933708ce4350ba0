/// Training: GRPO and SFT for adapters (losses, advantages, optimizer, schedules), checkpoints, metrics and
/// the training loop.
public enum Training {}
