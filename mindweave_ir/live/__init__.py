"""Live updates: one version number per watched topic, shared by every process.

Every write path bumps the topics it changes (`versions.bump`); a page that shows a
topic polls its live URL with the version it has, and gets 204 while nothing changed
(see versions.py and README "Live updates").
"""
