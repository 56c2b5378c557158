"""The teacher: writes new training examples from the seed examples the student gets wrong.

    teacher = Teacher(cfg.teacher, task, cache_dir)
    teacher.check_ready()
    result = teacher.augment(wrong, k, iteration, existing=train_set, forbidden=test_set)
    teacher.close()

Backends: the official ``openai`` client (OpenAI, or any OpenAI-compatible server via base_url:
vLLM, llama.cpp, Ollama), an in-process llama.cpp model (a GGUF) and an in-process transformers
model. Replies can be constrained to the task's JSON shape (llm2llm.teacher.structured). Every
call goes through one persistent cache (llm2llm.teacher.cache). Prompts are YAML templates under
``llm2llm/prompts/``.
"""

from llm2llm.teacher.backends import (Backend, GenRequest, Generation, LlamaCppBackend, LocalBackend, OpenAIBackend,
                                      RequestFailed, TeacherError)
from llm2llm.teacher.cache import TeacherCache, cache_key
from llm2llm.teacher.core import AugmentResult, Teacher
from llm2llm.teacher.dedup import NearDuplicateIndex, rouge_l
from llm2llm.teacher.formats import Parsed, Rejected, check_calculations, parse_output
from llm2llm.teacher.prompts import load_template, placeholders

__all__ = [
    "AugmentResult", "Backend", "GenRequest", "Generation", "LlamaCppBackend", "LocalBackend", "NearDuplicateIndex", "OpenAIBackend", "RequestFailed",
    "Parsed", "Rejected", "Teacher", "TeacherCache", "TeacherError", "cache_key", "check_calculations",
    "load_template", "parse_output", "placeholders", "rouge_l",
]
