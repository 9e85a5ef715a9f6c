"""The project's own PostgreSQL and Mosquitto: started on ports of their own, under the data folder."""
