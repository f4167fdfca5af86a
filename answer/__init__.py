"""Answer: from a question (and the conversation so far) to a short answer whose
every claim cites a retrieved passage, or an honest refusal.

followup (rewrite "那江苏呢？") -> index.searcher (passages) -> evidence (answer or
refuse?) -> extractive (sentences with [n]) or llm (streamed, citations checked);
service ties them up for the app.
"""
