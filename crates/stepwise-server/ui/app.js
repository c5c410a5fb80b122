// The dashboard (placeholder until the views land).
