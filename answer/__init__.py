"""Answer: from a question (and the conversation so far) to a short answer whose
every claim cites a retrieved passage, or an honest refusal.

followup (rewrite "那江苏呢？") -> question (type, focus, slot) -> index.searcher
(passages) -> reader (fitted clause scores, short answer) -> answerability (answer
or refuse?) -> the reader's sentences with [n], or llm (streamed, citations
checked); service ties them up for the app. The fitted weights are in models/.
"""
