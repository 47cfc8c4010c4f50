"""Model-ready images: the providers' rules as data (`rules`), the sizes and token counts they
give (`sizing`, `estimates`), the public presets (`presets`) and the variant maker (`variants`).

Pure domain code: Pillow and files, no web framework, records or stores.
"""
