"""Ingest: files on disk -> cleaned, case-labelled, content-addressed chunks.

loaders (read a format) -> clean (characters, broken lines) -> structure (cases,
organisation, title) -> chunking (passages with ids); pipeline ties them up.
"""

# Bump when cleaning, structure or chunking changes what a file turns into:
# indexes built by an older pipeline then re-chunk every file on the next ingest.
PIPELINE_VERSION = 7  # 2: corpus profiles per document; 3: entities stored with chunks;
# 4: dotted foreign names whole, places with their suffix (大溪区); 5: a place's first
# character cut off by the dictionary joins it (宜兰县头城镇); 6: a name's third character
# the dictionary tags as another word joins it (袁丽嫦); 7: a transliterated place cut into
# pieces, with its suffix, joins the place before it (加州费雷斯诺县)
