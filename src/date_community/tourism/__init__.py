"""Tourist sites, their texts in five languages, and walking tours.

Import the modules you need explicitly (``from date_community.tourism import
sites``); this package file stays empty so importing one module does not pull
in the Markdown renderer or the content loader.
"""
