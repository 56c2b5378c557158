"""The teacher: writes new training examples from the seed examples the student gets wrong.

    teacher = Teacher(cfg.teacher, task, cache_dir)
    teacher.check_ready()
    result = teacher.augment(wrong, k, iteration, existing=train_set, forbidden=test_set)
    teacher.close()

Backends: the official ``openai`` client (OpenAI, or any OpenAI-compatible server via base_url:
vLLM, llama.cpp, Ollama), an in-process llama.cpp model (a GGUF) and an in-process transformers
model. Replies can be constrained to the task's JSON shape (llm2llm.teacher.output_format). Every
call goes through one persistent cache (llm2llm.teacher.cache). Prompts are YAML templates under
``llm2llm/prompts/``.
"""

from llm2llm.teacher.backends import TeacherError
from llm2llm.teacher.core import Teacher

__all__ = ["Teacher", "TeacherError"]
