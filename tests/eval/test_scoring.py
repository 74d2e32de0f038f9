import numpy as np
import pytest

from mmabench.eval.scoring import bootstrap_ci, normalise, parse_answer, score_rows

OPTS = ["Bell", "Church bell", "Dog", "Speech", "None of the above"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Dog", ("Dog", "exact")),
        ("dog.", ("Dog", "exact")),
        ("  DOG!! ", ("Dog", "exact")),
        ("none_of_the_above", ("None of the above", "exact")),
        ("I hear a dog barking", ("Dog", "contained")),
        ("It is a church bell", ("Church bell", "contained")),  # 'Bell' inside 'Church bell' does not count
        ("Dog or speech", (None, "unparsed")),
        ("a cat", (None, "unparsed")),
        ("", (None, "unparsed")),
        ("Dogs", (None, "unparsed")),  # whole words only
    ],
)
def test_parse_answer(text, expected):
    assert parse_answer(text, OPTS) == expected


# real AudioSet names with commas, as template v2 lists them (quoted)
COMMA_OPTS = [
    "Bird",
    "Bird vocalization, bird call, bird song",
    "Canidae, dogs, wolves",
    "Cattle, bovinae",
    "Dog",
    "Vehicle horn, car horn, honking",
    "Car",
    "None of the above",
]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Cattle, bovinae", ("Cattle, bovinae", "exact")),
        ('"Cattle, bovinae"', ("Cattle, bovinae", "exact")),
        ("Cattle", ("Cattle, bovinae", "head")),
        ("I think these are cattle.", ("Cattle, bovinae", "head")),
        ("Canidae", ("Canidae, dogs, wolves", "head")),
        ("Bird vocalization", ("Bird vocalization, bird call, bird song", "head")),  # longer than 'Bird'
        ("Bird", ("Bird", "exact")),
        ("Vehicle horn", ("Vehicle horn, car horn, honking", "head")),
        ("a car horn", ("Car", "contained")),  # 'car horn' is not a head: only the run before the first comma
        ("dogs", (None, "unparsed")),  # not a head, and 'Dog' is whole words only
        ("cattle or a dog", (None, "unparsed")),  # two options named
        ("bovinae", (None, "unparsed")),
    ],
)
def test_parse_answer_with_commas_in_class_names(text, expected):
    assert parse_answer(text, COMMA_OPTS) == expected


def test_a_head_noun_shared_or_equal_to_another_option_is_not_used():
    assert parse_answer("Dog", ["Dog, bark", "Dog", "None of the above"]) == ("Dog", "exact")
    assert parse_answer("bell", ["Bell, chime", "Bell, gong", "None of the above"]) == (None, "unparsed")
    assert parse_answer("church", ["Church, chapel", "Church bell", "None of the above"]) == (None, "unparsed")


def test_normalise():
    assert normalise("Cattle,_bovinae!") == "cattle bovinae"


def test_bootstrap_ci_brackets_the_mean():
    x = np.array([1.0] * 30 + [0.0] * 70)
    lo, hi = bootstrap_ci(x)
    assert lo < 30 < hi and 15 < lo and hi < 45
    assert bootstrap_ci(np.ones(10)) == (100.0, 100.0)


def test_score_rows_macro_follow_and_errors():
    rows = [
        dict(
            condition="av_swap",
            prompt_modality="audio",
            answer=a,
            parsed=p,
            parse_status=s,
            correct=p == a,
            abstained=p == "None of the above",
            visual_class=v,
            audio_class=a,
        )
        for a, p, s, v in [
            ("Dog", "Dog", "exact", "Cat"),
            ("Dog", "Cat", "exact", "Cat"),
            ("Speech", "Speech", "exact", "Cat"),
            ("Speech", None, "unparsed", "Cat"),
        ]
    ]
    rows.append(
        dict(
            condition="av_swap",
            prompt_modality="audio",
            answer="Dog",
            parsed=None,
            parse_status="error",
            correct=None,
            abstained=None,
            visual_class="Cat",
            audio_class="Dog",
        )
    )
    (cell,) = score_rows(rows)
    assert cell.n == 4 and cell.errors == 1 and cell.accuracy == 50.0
    assert cell.per_class == {"Dog": 50.0, "Speech": 50.0} and cell.macro == 50.0
    assert cell.follows_audio == 50.0 and cell.follows_video == 25.0 and cell.unparsed == 25.0
