"""Knowledge bases: named collections with their own index, documents, readers
and keys, plus the accounts that sign in to read or manage them."""
