"""Fine-tuning: export validated training data, validate files, count tokens, run jobs.

- `export`: `to_openai` / `to_hf` and `ExportReport`.
- `validate`: `validate_finetune_file` and `ValidationReport`.
- `tokens`: offline token counts.
- `jobs`: `finetune` and `FineTuneJob`.
"""
