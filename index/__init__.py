"""Index: chunks -> embeddings (FAISS) and jieba tokens (BM25) in a directory of
plain files; search over both."""

import logging

# jieba announces every dictionary load on the root handler; our CLIs and the
# app print their own progress, so keep its chatter to warnings.
logging.getLogger("jieba").setLevel(logging.WARNING)
