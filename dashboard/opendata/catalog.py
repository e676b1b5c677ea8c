"""The open-data catalogue in DCAT-AP 3.0 (an rdflib graph, served as JSON-LD or Turtle),
built from the exports' manifests: the catalogue, each dataset with its distributions
(one per published file) and the API as a data service.

Vocabularies: the EU Publications Office's authority tables for themes, frequencies, file
types, languages, access rights and licences; IANA media types; SPDX checksums; GeoSPARQL
WKT literals for places. Shapes follow what CKAN's ``euro_dcat_ap_3`` profile reads.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD

from dashboard.opendata.datasets import Dataset
from dashboard.opendata.manifest import FileEntry, Manifest
from dashboard.settings import Settings

DCT = DCTERMS
DCT_FORMAT = URIRef(f"{DCTERMS}format")  # not an attribute: str.format is in the way
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
EU = "http://publications.europa.eu/resource/authority/"
IANA = "http://www.iana.org/assignments/media-types/"
PREFIXES = {"dcat": DCAT, "dct": DCT, "foaf": FOAF, "vcard": VCARD, "spdx": SPDX,
            "gsp": GSP, "skos": SKOS, "xsd": XSD}
FORMATS = {  # extension: EU file type, IANA media type, compression (IANA), label
    "csv": ("CSV", "text/csv", None, "CSV"),
    "csv.gz": ("CSV", "text/csv", "application/gzip", "CSV, gzip"),
    "parquet": ("PARQUET", "application/vnd.apache.parquet", None, "Parquet"),
    "geojson": ("GEOJSON", "application/geo+json", None, "GeoJSON"),
}
LANGUAGES = ("en", "es")
LANGUAGE_CODES = {"en": "ENG", "es": "SPA"}


def base_url(settings: Settings) -> str:
    return settings.public_url.rstrip("/")


def catalog_uri(settings: Settings) -> URIRef:
    return URIRef(f"{base_url(settings)}/api/v1/catalog")


def dataset_uri(settings: Settings, name: str) -> URIRef:
    """A dataset's stable URI (it resolves to the catalogue that describes it)."""
    return URIRef(f"{catalog_uri(settings)}#dataset-{name}")


def file_url(settings: Settings, name: str) -> URIRef:
    return URIRef(f"{base_url(settings)}/opendata/{name}")


def contact_email(settings: Settings) -> str:
    """The catalogue's contact: its own setting, else the address e-mails are sent from."""
    if settings.opendata_contact_email:
        return settings.opendata_contact_email
    sender = settings.smtp_from
    return sender[sender.find("<") + 1:sender.rfind(">")] if "<" in sender else sender


def _node(owner: URIRef, role: str) -> BNode:
    """A blank node with a stable id (the same graph serialises to the same bytes, so its
    ETag holds from one request to the next)."""
    return BNode("n" + hashlib.sha256(f"{owner} {role}".encode()).hexdigest()[:16])


def _texts(g: Graph, node: URIRef | BNode, predicate: URIRef, texts: dict[str, str]) -> None:
    for lang in LANGUAGES:
        if texts.get(lang):
            g.add((node, predicate, Literal(texts[lang], lang=lang)))


def _time(value: datetime) -> Literal:
    utc = value.astimezone(timezone.utc).replace(microsecond=0)
    return Literal(utc.isoformat().replace("+00:00", "Z"), datatype=XSD.dateTime)


def _point_in_time(text: str) -> Literal:
    """A manifest's coverage bound: a date or a date-time."""
    return Literal(text, datatype=XSD.date if len(text) == 10 else XSD.dateTime)


def _typed(g: Graph, uri: str, kind: URIRef) -> URIRef:
    node = URIRef(uri)
    g.add((node, RDF.type, kind))
    return node


def _location(g: Graph, owner: URIRef, bbox: list[float]) -> BNode:
    """A dct:Location with its bounding box and centre as WKT (lon lat, WGS 84)."""
    west, south, east, north = bbox
    node = _node(owner, "spatial")
    g.add((node, RDF.type, DCT.Location))
    polygon = (f"POLYGON(({west} {south}, {east} {south}, {east} {north}, {west} {north}, "
               f"{west} {south}))")
    g.add((node, DCAT.bbox, Literal(polygon, datatype=GSP.wktLiteral)))
    centre = f"POINT({(west + east) / 2} {(south + north) / 2})"
    g.add((node, DCAT.centroid, Literal(centre, datatype=GSP.wktLiteral)))
    return node


def _publisher(g: Graph, settings: Settings) -> URIRef:
    agent = URIRef(f"{catalog_uri(settings)}#publisher")
    g.add((agent, RDF.type, FOAF.Agent))
    g.add((agent, FOAF.name, Literal(settings.opendata_publisher)))
    g.add((agent, DCT.type, _typed(g, settings.opendata_publisher_type, SKOS.Concept)))
    g.add((agent, FOAF.homepage, _typed(g, base_url(settings) + "/", FOAF.Document)))
    return agent


def _contact(g: Graph, settings: Settings, owner: URIRef) -> BNode:
    node = _node(owner, "contact")
    g.add((node, RDF.type, VCARD.Organization))
    g.add((node, VCARD.fn, Literal(settings.opendata_publisher)))
    g.add((node, VCARD.hasEmail, URIRef(f"mailto:{contact_email(settings)}")))
    return node


def _distribution(g: Graph, settings: Settings, dataset: Dataset, entry: FileEntry
                  ) -> URIRef:
    file_type, media, compression, label = FORMATS[entry.format]
    node = URIRef(f"{catalog_uri(settings)}#file-{entry.name}")
    url = file_url(settings, entry.name)
    g.add((node, RDF.type, DCAT.Distribution))
    g.add((node, DCAT.accessURL, url))
    g.add((node, DCAT.downloadURL, url))
    part = f" {entry.part}" if entry.part else ""
    _texts(g, node, DCT.title, {lang: f"{dataset.title[lang]}{part} ({label})"
                                for lang in LANGUAGES})
    g.add((node, DCT_FORMAT, _typed(g, f"{EU}file-type/{file_type}",
                                       DCT.MediaTypeOrExtent)))
    g.add((node, DCAT.mediaType, _typed(g, IANA + media, DCT.MediaType)))
    if compression:
        g.add((node, DCAT.compressFormat, _typed(g, IANA + compression, DCT.MediaType)))
    g.add((node, DCT.license, _typed(g, settings.opendata_license, DCT.LicenseDocument)))
    g.add((node, DCAT.byteSize, Literal(entry.size, datatype=XSD.nonNegativeInteger)))
    checksum = _node(node, "checksum")
    g.add((node, SPDX.checksum, checksum))
    g.add((checksum, RDF.type, SPDX.Checksum))
    g.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
    g.add((checksum, SPDX.checksumValue, Literal(entry.sha256, datatype=XSD.hexBinary)))
    g.add((node, DCT.modified, _time(entry.modified)))
    return node


def _dataset(g: Graph, settings: Settings, dataset: Dataset, manifest: Manifest,
             publisher: URIRef) -> URIRef:
    node = dataset_uri(settings, dataset.name)
    g.add((node, RDF.type, DCAT.Dataset))
    g.add((node, DCT.identifier, Literal(str(node))))
    _texts(g, node, DCT.title, dataset.title)
    _texts(g, node, DCT.description, dataset.description)
    for lang in LANGUAGES:
        for word in dataset.keywords.get(lang, ()):
            g.add((node, DCAT.keyword, Literal(word, lang=lang)))
    for theme in dataset.themes:
        g.add((node, DCAT.theme, _typed(g, f"{EU}data-theme/{theme}", SKOS.Concept)))
    g.add((node, DCT.publisher, publisher))
    g.add((node, DCAT.contactPoint, _contact(g, settings, node)))
    g.add((node, DCT.accrualPeriodicity, _typed(g, f"{EU}frequency/{dataset.frequency}",
                                                DCT.Frequency)))
    if manifest.start or manifest.end:
        period = _node(node, "temporal")
        g.add((node, DCT.temporal, period))
        g.add((period, RDF.type, DCT.PeriodOfTime))
        if manifest.start:
            g.add((period, DCAT.startDate, _point_in_time(manifest.start)))
        if manifest.end:
            g.add((period, DCAT.endDate, _point_in_time(manifest.end)))
    if manifest.bbox:
        g.add((node, DCT.spatial, _location(g, node, manifest.bbox)))
    g.add((node, DCT.issued, _time(manifest.issued)))
    g.add((node, DCT.modified, _time(manifest.exported_at)))
    g.add((node, DCT.accessRights, _typed(g, f"{EU}access-right/PUBLIC",
                                          DCT.RightsStatement)))
    for code in LANGUAGE_CODES.values():
        g.add((node, DCT.language, _typed(g, f"{EU}language/{code}", DCT.LinguisticSystem)))
    for entry in manifest.files:
        g.add((node, DCAT.distribution, _distribution(g, settings, dataset, entry)))
    return node


def _service(g: Graph, settings: Settings, datasets: list[URIRef], publisher: URIRef
             ) -> URIRef:
    node = URIRef(f"{catalog_uri(settings)}#api")
    g.add((node, RDF.type, DCAT.DataService))
    _texts(g, node, DCT.title, {"en": "CityLens open-data API",
                                "es": "API de datos abiertos de CityLens"})
    g.add((node, DCAT.endpointURL, URIRef(f"{base_url(settings)}/api/v1/")))
    g.add((node, DCAT.endpointDescription, URIRef(f"{base_url(settings)}/api/v1/openapi.json")))
    g.add((node, DCT.publisher, publisher))
    g.add((node, DCT.license, _typed(g, settings.opendata_license, DCT.LicenseDocument)))
    g.add((node, DCT.accessRights, _typed(g, f"{EU}access-right/PUBLIC",
                                          DCT.RightsStatement)))
    for dataset in datasets:
        g.add((node, DCAT.servesDataset, dataset))
    return node


def catalog_graph(settings: Settings, exports: list[tuple[Dataset, Manifest | None]]
                  ) -> Graph:
    """The catalogue of the datasets exported so far (one never exported is left out)."""
    g = Graph()
    for prefix, namespace in PREFIXES.items():
        g.bind(prefix, namespace)
    catalog, publisher = catalog_uri(settings), _publisher(g, settings)
    g.add((catalog, RDF.type, DCAT.Catalog))
    name = settings.opendata_publisher
    _texts(g, catalog, DCT.title, {"en": f"{name} open data",
                                   "es": f"Datos abiertos de {name}"})
    _texts(g, catalog, DCT.description, {
        "en": f"The open data of {name}: districts, daily indicators, sensors and their "
              "readings, and service requests, refreshed from the city's systems.",
        "es": f"Los datos abiertos de {name}: distritos, indicadores diarios, sensores y "
              "sus lecturas, y avisos de los vecinos, actualizados desde los sistemas de "
              "la ciudad."})
    g.add((catalog, DCT.publisher, publisher))
    g.add((catalog, FOAF.homepage, _typed(g, base_url(settings) + "/", FOAF.Document)))
    for code in LANGUAGE_CODES.values():
        g.add((catalog, DCT.language, _typed(g, f"{EU}language/{code}",
                                             DCT.LinguisticSystem)))
    g.add((catalog, DCT.license, _typed(g, settings.opendata_license, DCT.LicenseDocument)))
    published = [(d, m) for d, m in exports if m is not None]
    nodes = [_dataset(g, settings, d, m, publisher) for d, m in published]
    for node in nodes:
        g.add((catalog, DCAT.dataset, node))
    if published:
        g.add((catalog, DCT.modified, _time(max(m.exported_at for _, m in published))))
    boxes = [m.bbox for _, m in published if m.bbox]
    if boxes:
        g.add((catalog, DCT.spatial, _location(g, catalog, [min(b[0] for b in boxes),
                                                   min(b[1] for b in boxes),
                                                   max(b[2] for b in boxes),
                                                   max(b[3] for b in boxes)])))
    g.add((catalog, DCAT.service, _service(g, settings, nodes, publisher)))
    return g


def serialise(graph: Graph, fmt: str) -> str:
    """``graph`` as Turtle (``ttl``) or compact JSON-LD (``jsonld``)."""
    if fmt == "ttl":
        return graph.serialize(format="turtle")
    context: dict[str, Any] = {prefix: str(ns) for prefix, ns in PREFIXES.items()}
    return graph.serialize(format="json-ld", context=context, auto_compact=True)
