"""The offline ranking evaluation behind `bench/eval_ranking.py`: format, simulator, methods."""
