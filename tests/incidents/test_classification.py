"""The §1.2 classification decision tree (incidents/classification.py)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.classification import NO, QUESTION_KEYS, QUESTIONS, YES, classify

SECURITY, UNAVAILABLE, MAJORITY, CUSTOMERS = QUESTION_KEYS


def test_questions_follow_the_handbook_order():
    assert QUESTION_KEYS == (
        "security_breach", "service_unavailable", "majority_affected", "customers_affected"
    )
    assert [q.severity_if_yes for q in QUESTIONS] == [1, 1, 2, 3]


@pytest.mark.parametrize(
    ("answers", "severity"),
    [
        ({SECURITY: YES}, 1),
        ({SECURITY: NO, UNAVAILABLE: YES}, 1),
        ({SECURITY: NO, UNAVAILABLE: NO, MAJORITY: YES}, 2),
        ({SECURITY: NO, UNAVAILABLE: NO, MAJORITY: NO, CUSTOMERS: YES}, 3),
        ({SECURITY: NO, UNAVAILABLE: NO, MAJORITY: NO, CUSTOMERS: NO}, 4),
    ],
    ids=["security-breach", "service-unavailable", "majority-affected",
         "customers-affected", "all-no"],
)
def test_each_path_through_the_tree_gives_its_severity(answers, severity):
    outcome = classify(answers)

    assert outcome.severity == severity
    assert outcome.next_question is None
    assert [(q.key, a) for q, a in outcome.answered] == list(answers.items())


def test_no_answers_asks_about_a_security_breach_first():
    outcome = classify({})

    assert outcome.next_question.key == SECURITY
    assert outcome.severity is None
    assert outcome.answered == ()


@pytest.mark.parametrize("given_no", range(1, 4))
def test_partially_answered_tree_asks_the_next_question(given_no):
    answers = dict.fromkeys(QUESTION_KEYS[:given_no], NO)

    outcome = classify(answers)

    assert outcome.severity is None
    assert outcome.next_question is QUESTIONS[given_no]
    assert [q.key for q, _ in outcome.answered] == list(QUESTION_KEYS[:given_no])


def test_gap_in_the_answers_asks_the_first_unanswered_question():
    outcome = classify({SECURITY: NO, MAJORITY: NO, CUSTOMERS: NO})

    assert outcome.next_question.key == UNAVAILABLE
    assert outcome.severity is None


@pytest.mark.parametrize(
    "invalid", ["", "Yes", "YES", "y", "true", " yes", "no ", None, True, False, 1, 0, ["yes"]]
)
def test_invalid_answer_counts_as_unanswered(invalid):
    outcome = classify({SECURITY: NO, UNAVAILABLE: invalid, MAJORITY: YES})

    assert outcome.next_question.key == UNAVAILABLE
    assert outcome.severity is None
    assert [q.key for q, _ in outcome.answered] == [SECURITY]


def test_answers_after_the_deciding_yes_are_ignored():
    outcome = classify({SECURITY: NO, UNAVAILABLE: YES, MAJORITY: "garbage", CUSTOMERS: NO})

    assert outcome.severity == 1
    assert outcome.next_question is None
    assert [(q.key, a) for q, a in outcome.answered] == [(SECURITY, NO), (UNAVAILABLE, YES)]


def test_unknown_keys_are_ignored():
    outcome = classify({"favourite_colour": YES, SECURITY: NO})

    assert outcome.next_question.key == UNAVAILABLE
    assert [q.key for q, _ in outcome.answered] == [SECURITY]


ANSWER_VALUES = st.one_of(
    st.sampled_from([YES, NO]), st.none(), st.booleans(), st.integers(), st.text(max_size=4)
)
ANSWERS = st.dictionaries(
    st.one_of(st.sampled_from(QUESTION_KEYS), st.text(max_size=10)), ANSWER_VALUES
)


@settings(database=None, max_examples=300)
@given(ANSWERS)
def test_any_answers_give_either_a_next_question_or_a_severity(answers):
    outcome = classify(answers)

    assert (outcome.next_question is None) != (outcome.severity is None)
    given_answers = [a for _, a in outcome.answered]
    if outcome.next_question is not None:
        assert outcome.next_question in QUESTIONS
        assert answers.get(outcome.next_question.key) not in (YES, NO)
        assert given_answers == [NO] * QUESTIONS.index(outcome.next_question)
    elif given_answers[-1] == YES:
        assert given_answers[:-1] == [NO] * (len(given_answers) - 1)
        assert outcome.severity == outcome.answered[-1][0].severity_if_yes
    else:
        assert given_answers == [NO] * len(QUESTIONS)
        assert outcome.severity == 4
    assert outcome.severity in (None, 1, 2, 3, 4)
