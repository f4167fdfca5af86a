"""jieba's part-of-speech tagger for questions, with the Viterbi search of its
HMM (the part that tags words its dictionary lacks: 耶律留哥, 长宗我部元亲)
done by numpy.

jieba's own search is pure Python over about 250 (position, tag) states: 2–3 ms
for one unknown name, most of the analysis time of a cold question. This one
takes the same steps over the same tables (jieba 0.42.1, pinned) and returns
the same path, ties included (jieba takes the greatest state among equals);
tests/test_reading.py checks that on every question of both eval sets.
Passages are tagged at ingest without the HMM (ingest/entities.py).
"""

from __future__ import annotations

from functools import cache, lru_cache

import jieba.posseg
import numpy as np
from jieba.posseg import POSTokenizer, char_state_tab_P, emit_P, start_P, trans_P

_MIN_FLOAT = -3.14e100  # jieba's log-probability of a character a state never emits


class _Hmm:
    def __init__(self) -> None:
        # Sorted, so that the last of equal scores is the greatest state, as in jieba.
        self.states = sorted(trans_P)
        self._index = {s: i for i, s in enumerate(self.states)}
        n = len(self.states)
        self.trans = np.full((n, n), -np.inf)
        self.follows = np.zeros((n, n), dtype=bool)  # jieba's "expected next" states
        for s, nexts in trans_P.items():
            for t, p in nexts.items():
                self.trans[self._index[s], self._index[t]] = p
                self.follows[self._index[s], self._index[t]] = True
        self.has_next = self.follows.any(axis=1)
        self.start = np.array([start_P[s] for s in self.states])
        self.every_state = np.ones(n, dtype=bool)

    @lru_cache(maxsize=4096)  # noqa: B019 - one instance, kept for the process
    def emission(self, char: str) -> np.ndarray:
        return np.array([emit_P[s].get(char, _MIN_FLOAT) for s in self.states])

    @lru_cache(maxsize=4096)  # noqa: B019
    def allowed(self, char: str) -> np.ndarray:
        """The states jieba's table allows for the character (all when it has none)."""
        if char not in char_state_tab_P:
            return self.every_state
        mask = np.zeros(len(self.states), dtype=bool)
        mask[[self._index[s] for s in char_state_tab_P[char]]] = True
        return mask

    def viterbi(self, obs: str) -> tuple[float, list[tuple[str, str]]]:
        """jieba.posseg.viterbi.viterbi(obs, char_state_tab_P, start_P, trans_P, emit_P)."""
        active = self.allowed(obs[0])
        score = np.full(len(self.states), -np.inf)
        score[active] = self.start[active] + self.emission(obs[0])[active]
        back = []
        for char in obs[1:]:
            prev = np.flatnonzero(active & self.has_next)
            expected = self.follows[prev].any(axis=0)
            active = self.allowed(char) & expected
            if not active.any():
                active = expected if expected.any() else self.every_state
            cols = np.flatnonzero(active)
            emitted = self.emission(char)[cols]
            # Added in jieba's order (previous + transition + emission): the same floats.
            total = (score[prev][:, None] + self.trans[np.ix_(prev, cols)]) + emitted
            best = len(prev) - 1 - np.argmax(total[::-1], axis=0)  # last of equals
            score = np.full(len(self.states), -np.inf)
            score[cols] = total[best, np.arange(len(cols))]
            pointer = np.full(len(self.states), -1)
            pointer[cols] = prev[best]
            back.append(pointer)
        last = np.flatnonzero(active)
        state = int(last[len(last) - 1 - np.argmax(score[last][::-1])])
        prob = float(score[state])
        route = [state]
        for pointer in reversed(back):
            state = int(pointer[state])
            route.append(state)
        return prob, [self.states[i] for i in reversed(route)]


class _QuestionTagger(POSTokenizer):
    """jieba's default tagger (same dictionary and tags) with the numpy search."""

    def __init__(self) -> None:  # shares jieba.posseg.dt's tables instead of reloading them
        self.tokenizer = jieba.posseg.dt.tokenizer
        self.word_tag_tab = jieba.posseg.dt.word_tag_tab
        self._hmm = _Hmm()

    # jieba's private step, overridden (the name is what `self.__cut` means in its class).
    def _POSTokenizer__cut(self, sentence: str):
        _, route = self._hmm.viterbi(sentence)
        begin, next_i = 0, 0
        for i, char in enumerate(sentence):
            position, tag = route[i]
            if position == "B":
                begin = i
            elif position == "E":
                yield jieba.posseg.pair(sentence[begin : i + 1], tag)
                next_i = i + 1
            elif position == "S":
                yield jieba.posseg.pair(char, tag)
                next_i = i + 1
        if next_i < len(sentence):
            yield jieba.posseg.pair(sentence[next_i:], route[next_i][1])


@cache
def question_tagger() -> POSTokenizer:
    return _QuestionTagger()
