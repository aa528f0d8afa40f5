"""The classification decision tree of handbook §1.2, as pure data and functions.

Questions are asked in order; the first "yes" decides the severity, and "no" to
the last question means SEV-4. `classify` takes the answers given so far and says
either which question comes next or which severity the answers lead to.
"""

from dataclasses import dataclass

YES = "yes"
NO = "no"


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    help: str
    severity_if_yes: int


QUESTIONS = (
    Question(
        "security_breach",
        "Is there a security breach?",
        "Unauthorised access to systems or data, leaked credentials, data exfiltration.",
        1,
    ),
    Question(
        "service_unavailable",
        "Is the service completely unavailable?",
        "Total outage: customers cannot use the platform or API at all.",
        1,
    ),
    Question(
        "majority_affected",
        "Is more than 50% of functionality affected?",
        "A major feature broken, >50% error rate, latency >10x normal, a partial outage.",
        2,
    ),
    Question(
        "customers_affected",
        "Does it affect customers?",
        "Any customer-facing degradation, elevated errors or data inconsistency.",
        3,
    ),
)
SEVERITY_IF_ALL_NO = 4
QUESTION_KEYS = tuple(q.key for q in QUESTIONS)


@dataclass(frozen=True)
class Outcome:
    """Where a set of answers stands: the next question, or the severity reached."""

    answered: tuple  # ((Question, answer), ...) in the order asked
    next_question: Question | None
    severity: int | None


def classify(answers):
    """Walk the tree with `answers` (a mapping key -> "yes"/"no").

    1. Ask the questions in order, keeping the answers given.
    2. Stop at the first "yes": its severity is the result.
    3. Stop at the first unanswered question: it is next.
    4. All "no": SEV-4.
    Answers to questions after the deciding one are ignored.
    """
    answered = []
    for question in QUESTIONS:
        answer = answers.get(question.key)
        if answer not in (YES, NO):
            return Outcome(tuple(answered), question, None)
        answered.append((question, answer))
        if answer == YES:
            return Outcome(tuple(answered), None, question.severity_if_yes)
    return Outcome(tuple(answered), None, SEVERITY_IF_ALL_NO)
