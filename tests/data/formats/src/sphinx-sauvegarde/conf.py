project = "Atelier"
language = "fr"
html_theme = "alabaster"
