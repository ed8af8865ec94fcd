"""The access package (PIPA art. 35, Decree art. 41): the holders' extracts, the 열람내역서, the
release of one ZIP, the requester's download, and access given in person or by mail."""
