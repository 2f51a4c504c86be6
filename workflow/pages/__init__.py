"""The web pages (URL namespace `ui`): views, the forms they read POSTs with, their URLs."""
