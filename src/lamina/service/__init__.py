"""The Docker Engine API over a socket (``lamina system service``): a thin shell over
:class:`lamina.api.Client`, as the CLI is. ``server`` serves HTTP and routes; one module per
area answers its endpoints; ``translate`` maps docker's create JSON onto ``RunOptions``."""
