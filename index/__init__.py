"""Index: chunks -> embeddings (FAISS) and jieba tokens (BM25) in a directory of
plain files; search over both."""

import logging

import jieba

# jieba announces every dictionary load at DEBUG level on its own handler (set
# when it is imported); our CLIs and the app print their own progress.
jieba.setLogLevel(logging.WARNING)
