"""Where apps already are: ``langchain`` (a LangChain chat model, the ``langchain`` extra) and ``llm_plugin``
(a plugin for Simon Willison's ``llm`` command line, the ``llm`` extra). Each imports its framework itself."""
