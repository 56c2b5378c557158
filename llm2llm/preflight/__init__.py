"""GPU preflight: before a paper sweep, check on the node itself that the recipe runs and measure what
it will cost (``python -m llm2llm.preflight --out DIR``; docs/preflight.md).

- CUDA devices, driver, package versions (env.py);
- a few optimizer steps of the configured trainer recipe, full and LoRA, through the harness's own
  training code, on the student's architecture with random weights (training.py, synthetic.py);
- batched generation and label scoring with the harness's evaluation code, and vLLM where installed
  (evaluation.py);
- the cost of each sweep file from those figures (projection.py);
- a JSON and a short Markdown report (report.py). Sizes: sizes.py (toy on CPU, gpu on a GPU).
"""
