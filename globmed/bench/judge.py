"""Optional judge: a model asked which answer an output gives, only for outputs the rules leave unparsed.

`globmed bench run ... --judge MODEL` (and `globmed bench report OUT --rescore --judge MODEL`) send,
for every MCQA/NLI output whose answer `extract_answer` could not read, one request to the judge
(any backend: `--judge-backend`, `--judge-base-url`, `--judge-api-key-env`, as for the evaluated
model). Its requests go through the runner into the same crash-safe store, keyed by the judge's
identity and the whole prompt, so a rerun asks nothing twice and `--rescore` reads them offline.
This module holds the judge's prompts and how its replies are read (scoring reads them through
`Judging`); asking it is globmed.bench.evaluate.judge_unparsed, beside the evaluated models' requests.

What it changes: nothing in `pred`, `correct`, `accuracy` or `unparsed`. The judge's reading goes
to the details column `pred_judge`, and each results row gets `unparsed_judge` (still unparsed after
the judge) and `accuracy_judge` (judge-assisted: the rules' answer, else the judge's). Only a user
who reads those columns, or the report's judge table, sees judge-assisted numbers.

The judge prompt is in English whatever the language of the output (the output itself is shown
verbatim): the judge's task is the same in every language, judges follow English instructions
best, and one fixed wording keeps its answers comparable across languages. It asks for the option
letter (or the English label word) or NONE, and that reply is read with the English rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from ..backends import GenerationSettings, Request, make_backend
from ..records import LETTERS
from ..runner import Store, request_key
from .extract import extract_answer

SYSTEM = "You check which answer a response gives. You never answer the question yourself."
MCQA = """A model was asked the multiple-choice question below and gave the response below.

Question:
{question}

Options:
{options}

Response:
<<<
{output}
>>>

Which option does the response give as its final answer? Reply with its letter only ({letters}). \
Reply NONE if the response gives no answer, several different answers, or refuses."""
NLI = """A model was asked how a hypothesis relates to a premise (one of: {labels}) and gave the response below.

Premise: {premise}
Hypothesis: {hypothesis}

Response:
<<<
{output}
>>>

Which relation does the response give as its final answer (it may use another language's word for it)? \
Reply with one English word only ({labels}). Reply NONE if it gives no answer, several different answers, \
or refuses."""


@dataclass(frozen=True)
class JudgeSpec:
    model: str
    backend: str = "openai"
    base_url: str | None = None
    api_key_env: str | None = None
    max_tokens: int = 16

    def make(self) -> Any:
        return make_backend(self.backend, self.model, base_url=self.base_url, api_key_env=self.api_key_env)


def judge_request(task: str, item: Mapping[str, Any], options: list[str], output: str, max_tokens: int) -> Request:
    """The judge's request about one output (task mcqa or nli; `options` are the letters' texts or the labels)."""
    if task == "mcqa":
        text = MCQA.format(question=item.get("question", ""), output=output.strip(),
                           options="\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options)),
                           letters=", ".join(LETTERS[: len(options)]))
    else:
        text = NLI.format(labels=", ".join(options), premise=item.get("premise", ""),
                          hypothesis=item.get("hypothesis", ""), output=output.strip())
    return Request(messages=({"role": "system", "content": SYSTEM}, {"role": "user", "content": text}),
                   settings=GenerationSettings(max_tokens=max_tokens, temperature=0.0))


def judge_key(identity: Mapping[str, Any], request: Request) -> str:
    return request_key({"judge": dict(identity), "request": request.payload()})


def read_verdict(reply: str | None, task: str, options: list[str]) -> str | None:
    """The letter / label in the judge's reply (read with the English rules); None for NONE."""
    if not reply or reply.strip().strip(".*`'\" ").upper() == "NONE":
        return None
    return extract_answer(reply, "en", task, options)


class Judging:
    """Used by scoring: looks up the judge's reading of an unparsed output, or notes the request to send."""

    def __init__(self, config: Mapping[str, Any], store: Store):
        self.identity, self.max_tokens, self.store = config["identity"], config.get("max_tokens", 16), store
        self.pending: dict[str, Request] = {}

    def read(self, task: str, item: Mapping[str, Any], options: list[str], output: str) -> str | None:
        request = judge_request(task, item, options, output, self.max_tokens)
        key = judge_key(self.identity, request)
        raw = self.store.get(key)
        if raw is None:
            self.pending[key] = request
            return None
        return read_verdict(json.loads(raw).get("text"), task, options)
