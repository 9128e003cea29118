"""Paper sources: where trending papers come from (Hugging Face daily papers, files, a sample)."""
