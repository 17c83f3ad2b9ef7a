"""VQA's answer normalisation and accuracy, as the official evaluation does them.

The VQA evaluation (Antol et al. 2015; `vqaEval.py` of the VQA API) compares
answers after two steps. Punctuation: each of `PUNCTUATION` is deleted when
it touches a space (or when the answer has a comma between digits) and
replaced by a space otherwise, then every period not followed by a digit
goes ("3.5" keeps its point). Words: lower case, number words up to ten
become digits, the articles "a", "an", "the" go, and apostrophe-less
contractions get their apostrophe ("dont" -> "don't"). A prediction scores
`min(1, matches / 3)` against each 9 of the 10 human answers, averaged over
the 10 choices of 9 (`vqa_accuracy`).
"""

import re

PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">",
               "<", "@", "`", ",", "?", "!")
ARTICLES = ("a", "an", "the")
NUMBER_WORDS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
                "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
# The evaluation's table, as published (its capitalised keys can never match:
# words are lower-cased first).
CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've",
    "couldnt": "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't",
    "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's", "howd": "how'd",
    "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've",
    "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've",
    "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've",
    "whyll": "why'll", "whyre": "why're", "whys": "why's", "wont": "won't",
    "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll",
    "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've", "youd": "you'd", "youd've": "you'd've",
    "you'dve": "you'd've", "youll": "you'll", "youre": "you're", "youve": "you've",
}
# A comma between digits ("1,000") makes every punctuation mark vanish.
DIGIT_COMMA = re.compile(r"\d,\d")
# A period not followed by a digit.
LOOSE_PERIOD = re.compile(r"\.(?!\d)")
# Matches needed for a full score.
FULL_SCORE_MATCHES = 3


def normalize_vqa_answer(answer):
    """`answer` as the VQA evaluation compares it.

    Args:
        answer: str.

    Returns:
        str: punctuation, number words, articles and contractions
        normalised (see the module docstring).

    Example:

    >>> normalize_vqa_answer("Two dogs.")
    '2 dogs'
    >>> normalize_vqa_answer("the man's hat!")
    "man's hat"
    >>> normalize_vqa_answer("dont know"), normalize_vqa_answer("3.5")
    ("don't know", '3.5')
    """
    return _normalize_cleaned(_clean(answer))


def _normalize_cleaned(text):
    delete_all = DIGIT_COMMA.search(text) is not None
    out = text
    for mark in PUNCTUATION:
        touches_space = mark + " " in text or " " + mark in text
        out = out.replace(mark, "" if touches_space or delete_all else " ")
    # The evaluation passes re.UNICODE (32) where `sub` takes its count.
    out = LOOSE_PERIOD.sub("", out, count=32)
    words = []
    for word in out.lower().split():
        word = NUMBER_WORDS.get(word, word)
        if word not in ARTICLES:
            words.append(CONTRACTIONS.get(word, word))
    return " ".join(words)


def _clean(answer):
    if not isinstance(answer, str):
        raise TypeError(f"answer must be a str. Received: answer={answer!r} "
                        f"of type {type(answer).__name__}")
    return answer.replace("\n", " ").replace("\t", " ").strip()


def vqa_accuracy(predictions, human_answers):
    """The VQA accuracy of `predictions`, each against its 10 human answers.

    For each prediction and each of the 10 ways to leave one human answer
    out, the score is `min(1, matches / 3)` over the other 9; a question's
    accuracy is the mean of the 10 scores. As in the official evaluation,
    answers are compared after `normalize_vqa_answer` when the human
    answers differ, and as given (outer white space removed) when they
    all agree.

    Args:
        predictions: list of str, one answer per question.
        human_answers: list (one per question) of lists of str, the human
            answers (10 in VQA v2; any non-empty number works).

    Returns:
        dict: `"accuracy"` (mean over questions) and `"per_question"`
        (list of floats).

    Example:

    >>> vqa_accuracy(["2"], [["two"] * 3 + ["3"] * 7])["accuracy"]
    0.9
    """
    if len(predictions) != len(human_answers):
        raise ValueError(
            "predictions and human_answers must have the same length. Received: "
            f"len(predictions)={len(predictions)}, len(human_answers)={len(human_answers)}")
    scores = []
    for index, (prediction, humans) in enumerate(zip(predictions, human_answers)):
        if isinstance(humans, str) or not len(humans):
            raise ValueError(
                "human_answers must hold a non-empty list of str per question. Received: "
                f"human_answers[{index}]={humans!r}")
        humans = [_clean(human) for human in humans]
        predicted = _clean(prediction)
        if len(set(humans)) > 1:
            humans = [_normalize_cleaned(human) for human in humans]
            predicted = _normalize_cleaned(predicted)
        matches = [human == predicted for human in humans]
        total = sum(matches)
        scores.append(sum(min(1.0, (total - match) / FULL_SCORE_MATCHES)
                          for match in matches) / len(matches))
    accuracy = sum(scores) / len(scores) if scores else 0.0
    return {"accuracy": accuracy, "per_question": scores}
