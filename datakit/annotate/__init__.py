"""The annotate stage (가공): Label Studio in, label records and agreement out.

Public API (import from the submodules; they load httpx/pyarrow lazily for the CLI)::

    from datakit.annotate.client import connect, LabelStudioClient
    from datakit.annotate.push import push, push_predictions
    from datakit.annotate.pull import pull, build_outputs
    from datakit.annotate.importing import import_export, import_labels  # + formats/
    from datakit.annotate.spans import tally  # NER spans repaired/refused by a pull
    from datakit.annotate.agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha
    from datakit.annotate.server import start_server, stop_server
    from datakit.annotate.simulate import simulate
    from datakit.annotate.status import annotation_status
"""
