"""The plane's Lambda functions: one package per function, plus ``common`` shared by them."""
