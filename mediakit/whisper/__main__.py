"""``python -m mediakit.whisper AUDIO --model base ...``: openai-whisper's command on mediakit."""

from .transcribe import cli

cli()
