"""Network collector: pcap/pcapng import and live capture → ECS network events.

Datasets: ``network.flow`` (TCP/UDP/other IP flows with Zeek's conn_state and history),
``network.dns``, ``network.http``, ``network.tls`` (SNI, JA3/JA3S, JA4; TLS over TCP and QUIC),
``network.icmp`` and ``network.arp`` (including IP→MAC changes).

Modules, hot path first: ``pcapfile`` (streaming reader) → ``decode`` (struct-decoded headers,
tunnels, fragments) → ``engine`` (flow table, timeouts, application dispatch) with ``flows``,
``reassembly``, ``dns``, ``http``, ``tls``, ``quic`` → ``appevents``/``ecs`` (documents and ids).
``scapy_io`` is the only module importing scapy (live capture sockets, cipher-suite names).
Entry points: ``service.import_pcaps`` (``soc collect pcap``), ``service.read_captures``,
``live.create_input`` (``type: pcap_live`` in ``soc collect run`` inputs files).

Sigma: documents carry the fields pySigma's ``ecs_zeek_beats`` pipeline maps Zeek conn/dns/http
fields to; that pipeline also adds ``event.dataset: zeek.<service>``, which
``ecs.ZEEK_SERVICE_DATASETS`` translates to our datasets.
"""
